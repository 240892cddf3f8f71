/* The map of the public page of a joint operation (public_operation.html): the areas brought in, coloured and
   patterned by level and labelled with their name, owner and public label, from the page's json_script.
   The cards below the map say the same in words; nothing is fetched. */
import { createPictureMap } from "./picture-map.js";

const data = JSON.parse(document.getElementById("public-map-data").textContent);
const map = createPictureMap(document.getElementById("public-map"), { tileUrl: data.tileUrl });
map.render(data.features.map((feature, index) => ({
  key: String(index), geometry: feature.geometry, name: feature.properties.name,
  owner: feature.properties.owner_name, lvl: feature.properties.lvl, text: feature.properties.label
})));
