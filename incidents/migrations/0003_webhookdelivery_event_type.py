from django.db import migrations


class Migration(migrations.Migration):
    """Deliveries name their event type ``event_type``: ``event`` becomes the stored CloudEvent."""

    dependencies = [("incidents", "0002_action_log")]

    operations = [migrations.RenameField("webhookdelivery", "event", "event_type")]
