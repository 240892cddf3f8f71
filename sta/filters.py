"""$filter and $orderby: parsed by odata-query, translated to Django Q objects and expressions.

Two passes over the odata-query AST:

1. :class:`PathResolver` (an odata-query ``NodeTransformer``) replaces SensorThings paths such as
   ``Datastream/Thing/name`` or ``properties/kind`` with placeholders bound to ORM expressions, using the
   entity registry in :mod:`sta.entities`; an unknown property is an error with its position.
2. :class:`StaQVisitor` (a subclass of odata-query's ``AstToDjangoQVisitor``) turns the result into a
   ``Q``, checks operand types, and adds the SensorThings functions odata-query lacks (``substringof``,
   the ``st_*`` spatial functions, ``geo.intersects`` without GeoDjango).

Spatial functions are evaluated with shapely on the tenant's geometries and become ``key IN (...)``.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MethodType

import shapely
from django.db.models import DecimalField, F, Q, Value
from django.db.models import functions as db
from django.db.models.expressions import Expression
from odata_query import ast
from odata_query import exceptions as odata
from odata_query.django.django_q import AstToDjangoQVisitor
from odata_query.grammar import ODataLexer, ODataParser
from odata_query.visitor import NodeTransformer

from .entities import ENTITY_TYPES, EntityType

SPATIAL = {
    "geo.intersects": "intersects",
    "st_intersects": "intersects",
    "st_equals": "equals",
    "st_disjoint": "disjoint",
    "st_touches": "touches",
    "st_within": "within",
    "st_overlaps": "overlaps",
    "st_crosses": "crosses",
    "st_contains": "contains",
    "st_relate": "relate_pattern",
}
# SensorThings functions the OData v4 grammar does not know, with their argument counts.
EXTRA_FUNCTIONS = {"substringof": 2, "st_relate": 3} | {name: 2 for name in SPATIAL if name.startswith("st_")}
UNSUPPORTED = {"geo.distance", "geo.length", "hassubset", "hassubsequence", "totalseconds"}


class QueryError(ValueError):
    """A query option the server cannot evaluate; ``position`` is a 0-based offset into ``option``."""

    def __init__(self, message: str, *, option: str = "$filter", position: int | None = None):
        self.option = option
        self.position = position
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"{option}: {message}{where}")


def _call_position(text: str, name: str) -> int | None:
    """Where a function call starts (the parser reports unknown functions without a position)."""
    try:
        for token in ODataLexer().tokenize(text):
            if token.type == "ODATA_IDENTIFIER" and token.value.full_name() == name:
                return token.index
    except odata.ODataException:
        return None
    return None


def parse(text: str, option: str = "$filter") -> ast._Node:
    """The AST of an OData expression, or a :class:`QueryError` with the position of the problem."""
    if not text.strip():
        raise QueryError("empty expression", option=option, position=0)
    parser = ODataParser()
    standard_call = parser._function_call

    def function_call(self, func, args):
        name = func.full_name()
        if not func.namespace and name in EXTRA_FUNCTIONS:
            if len(args) != EXTRA_FUNCTIONS[name]:
                raise odata.ArgumentCountException(
                    name, EXTRA_FUNCTIONS[name], EXTRA_FUNCTIONS[name], len(args)
                )
            return ast.Call(func, args)
        return standard_call(func, args)

    parser._function_call = MethodType(function_call, parser)  # the grammar class cannot be subclassed
    try:
        tree = parser.parse(ODataLexer().tokenize(text))
    except odata.TokenizingException as exc:
        raise QueryError(
            f"unexpected character {exc.token.value[:1]!r}", option=option, position=exc.token.index
        ) from None
    except odata.ParsingException as exc:
        if exc.eof or exc.token is None:
            raise QueryError("unexpected end of expression", option=option, position=len(text)) from None
        shown = exc.token.value if isinstance(exc.token.value, str) else text[exc.token.index :][:20]
        raise QueryError(
            f"syntax error near {shown.strip() or 'whitespace'!r}", option=option, position=exc.token.index
        ) from None
    except odata.UnknownFunctionException as exc:
        raise QueryError(
            f"unknown function '{exc.function_name}'",
            option=option,
            position=_call_position(text, exc.function_name),
        ) from None
    except odata.ArgumentCountException as exc:
        raise QueryError(str(exc), option=option, position=_call_position(text, exc.function_name)) from None
    except odata.ODataException as exc:
        raise QueryError(str(exc), option=option) from None
    if tree is None:
        raise QueryError("empty expression", option=option, position=0)
    return tree


@dataclass
class Bound:
    """What a placeholder identifier stands for."""

    type: str
    expression: object  # F or an ORM expression; for geometry: the ORM path of the key
    geometries: object = None
    label: str = ""


def _names(node) -> list[str]:
    if isinstance(node, ast.Identifier):
        return [*node.namespace, node.name] if node.namespace else [node.name]
    return [*_names(node.owner), node.attr]


class PathResolver(NodeTransformer):
    """Replace SensorThings property paths with placeholders bound to ORM expressions."""

    def __init__(self, entity: EntityType, text: str, option: str):
        self.entity = entity
        self.text = text
        self.option = option
        self.bound: dict[str, Bound] = {}
        self.many = False  # a to-many navigation was used: the caller de-duplicates rows

    def _position(self, names: list[str]) -> int | None:
        match = re.search(r"(?<![\w/])" + r"\s*/\s*".join(re.escape(n) for n in names), self.text)
        return match.start() if match else None

    def resolve(self, names: list[str]) -> Bound:
        entity, prefix, rest = self.entity, "", list(names)
        while rest:
            joined = "/".join(rest)
            if joined in entity.props:
                prop = entity.props[joined]
                if prop.type == "json":
                    break
                if prop.type == "geometry":
                    return Bound("geometry", prefix + prop.path, prop.geometries, "/".join(names))
                return Bound(prop.type, prop.orm(prefix), label="/".join(names))
            head = rest.pop(0)
            nav = entity.navs.get(head)
            if nav is None or not rest:
                break
            if nav.filter_path is None:
                raise QueryError(
                    f"{entity.singular}/{head} cannot be used in a filter",
                    option=self.option,
                    position=self._position(names),
                )
            if nav.many:
                self.many = True
            if nav.filter_path:
                prefix += nav.filter_path + "__"
            entity = ENTITY_TYPES[nav.target]
        raise QueryError(
            f"unknown or unfilterable property '{'/'.join(names)}' of {self.entity.singular}",
            option=self.option,
            position=self._position(names),
        )

    def _bind(self, node) -> ast.Identifier:
        bound = self.resolve(_names(node))
        name = f"sta_p{len(self.bound)}"
        self.bound[name] = bound
        return ast.Identifier(name)

    def visit_Identifier(self, node: ast.Identifier) -> ast._Node:  # noqa: N802  (odata-query's visitor naming)
        return self._bind(node)

    def visit_Attribute(self, node: ast.Attribute) -> ast._Node:  # noqa: N802  (odata-query's visitor naming)
        return self._bind(node)

    def visit_Call(self, node: ast.Call) -> ast._Node:  # noqa: N802  (odata-query's visitor naming)
        return ast.Call(node.func, [self.visit(a) for a in node.args])  # keep the function name as is

    def visit_CollectionLambda(self, node):  # noqa: N802  (odata-query's visitor naming)
        raise QueryError("any() and all() are not supported", option=self.option)


LITERAL_TYPES = {
    ast.String: "str",
    ast.Integer: "num",
    ast.Float: "num",
    ast.Boolean: "bool",
    ast.DateTime: "datetime",
    ast.Date: "datetime",
}


class StaQVisitor(AstToDjangoQVisitor):
    """odata-query's Django visitor over resolved placeholders, SensorThings functions and type checks."""

    def __init__(self, model, resolver: PathResolver, tenant):
        super().__init__(model)
        self.resolver = resolver
        self.tenant = tenant

    def _error(self, message: str) -> QueryError:
        return QueryError(message, option=self.resolver.option)

    def visit_Identifier(self, node: ast.Identifier):  # noqa: N802  (odata-query's visitor naming)
        bound = self.resolver.bound[node.name]
        if bound.type == "geometry":
            raise self._error(f"'{bound.label}' is a geometry: use it in geo.intersects() or st_*() only")
        expression = bound.expression
        return expression if isinstance(expression, F | Expression) else F(expression)

    def visit_DateTime(self, node: ast.DateTime) -> Value:  # noqa: N802  (odata-query's visitor naming)
        try:
            moment = node.py_val
        except ValueError:
            raise self._error(f"invalid date-time {node.val!r}") from None
        return Value(moment if moment.tzinfo else moment.replace(tzinfo=UTC))

    def visit_BinOp(self, node: ast.BinOp):  # noqa: N802  (odata-query's visitor naming)
        if isinstance(node.op, ast.Mod):  # PostgreSQL has no % for double precision: MOD() on decimals
            decimal = DecimalField(max_digits=30, decimal_places=10)
            return db.Mod(db.Cast(self.visit(node.left), decimal), db.Cast(self.visit(node.right), decimal))
        return super().visit_BinOp(node)

    def expression(self, node):
        """An ORM expression (not a Q) for $orderby."""
        self._depth += 1
        try:
            return self.visit(node)
        finally:
            self._depth -= 1

    def _type_of(self, node) -> str | None:
        if isinstance(node, ast.Identifier) and node.name in self.resolver.bound:
            return self.resolver.bound[node.name].type
        return LITERAL_TYPES.get(type(node))

    def visit_Compare(self, node: ast.Compare):  # noqa: N802  (odata-query's visitor naming)
        left, right = self._type_of(node.left), self._type_of(node.right)
        if isinstance(node.right, ast.List):
            types = {self._type_of(item) for item in node.right.val} - {None}
            right = types.pop() if len(types) == 1 else None
        if left and right and left != right:
            raise self._error(f"cannot compare a {left} with a {right}")
        if "json" in (left, right):
            raise self._error("cannot compare a JSON object; compare one of its properties")
        return super().visit_Compare(node)

    def visit_Call(self, node: ast.Call):  # noqa: N802  (odata-query's visitor naming)
        name = node.func.full_name()
        if name in SPATIAL:
            return self._spatial(name, node.args)
        if name in UNSUPPORTED:
            raise self._error(f"function '{name}' is not supported")
        return super().visit_Call(node)

    def _geometry_arg(self, node):
        if isinstance(node, ast.Geography):
            text = re.sub(r"^\s*SRID=\d+;", "", node.val, flags=re.I)
            try:
                return shapely.from_wkt(text)
            except shapely.errors.ShapelyError as exc:
                raise self._error(f"invalid WKT geometry {text[:60]!r}: {exc}") from None
        if isinstance(node, ast.Identifier) and self.resolver.bound[node.name].type == "geometry":
            return self.resolver.bound[node.name]
        raise self._error("spatial functions take a geometry property and a geography'...' literal")

    def _spatial(self, name: str, args):
        first, second = self._geometry_arg(args[0]), self._geometry_arg(args[1])
        pattern = None
        if name == "st_relate":
            if not isinstance(args[2], ast.String):
                raise self._error("st_relate needs a DE-9IM pattern string as third argument")
            pattern = args[2].val
        if isinstance(first, Bound) == isinstance(second, Bound):
            raise self._error(f"{name} needs one geometry property and one geography'...' literal")
        bound, literal, swapped = (
            (first, second, False) if isinstance(first, Bound) else (second, first, True)
        )
        predicate = SPATIAL[name]

        def holds(geometry) -> bool:
            a, b = (literal, geometry) if swapped else (geometry, literal)
            extra = (pattern,) if pattern is not None else ()
            return bool(getattr(a, predicate)(b, *extra))

        keys = [key for key, geometry in bound.geometries(self.tenant).items() if holds(geometry)]
        return Q(**{f"{bound.expression}__in": keys})

    # SensorThings (OData v3) substringof(needle, haystack) is contains(haystack, needle).
    def djangofunc_substringof(self, needle, haystack):
        return self.djangofunc_contains(haystack, needle)

    def _substr_function(self, field, substr, django_func):
        if not isinstance(substr, ast.String):
            raise self._error("the second argument of contains/startswith/endswith must be a string")
        return django_func(self.visit(field), self.visit(substr))

    def djangofunc_fractionalseconds(self, field):
        return db.ExtractSecond(self.visit(field)) - db.Floor(db.ExtractSecond(self.visit(field)))

    def djangofunc_totaloffsetminutes(self, field):
        return Value(0)  # times are stored and served in UTC

    def djangofunc_mindatetime(self):
        return Value(datetime(1, 1, 1, tzinfo=UTC))

    def djangofunc_maxdatetime(self):
        return Value(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))


def _resolve(entity: EntityType, text: str, option: str, tenant):
    tree = parse(text, option)
    resolver = PathResolver(entity, text, option)
    tree = resolver.visit(tree)
    return tree, resolver, StaQVisitor(entity.queryset(tenant).model, resolver, tenant)


def apply_filter(entity: EntityType, queryset, text: str | None, *, tenant, option: str = "$filter"):
    """``queryset`` narrowed by a $filter expression."""
    if text is None:
        return queryset
    tree, resolver, visitor = _resolve(entity, text, option, tenant)
    try:
        condition = visitor.visit(tree)
    except QueryError:
        raise
    except odata.ODataException as exc:
        raise QueryError(str(exc), option=option) from None
    except (TypeError, NotImplementedError) as exc:
        raise QueryError(f"cannot evaluate this expression ({exc})", option=option) from None
    matching = queryset
    if visitor.queryset_annotations:
        matching = matching.annotate(**visitor.queryset_annotations)
    matching = matching.filter(condition)
    if resolver.many:  # a to-many path joins several rows per entity: keep each entity once
        return queryset.filter(pk__in=matching.values("pk"))
    return matching


def _split(text: str, separator: str) -> list[str]:
    """Split at top-level separators (outside parentheses and quotes)."""
    parts, depth, quoted, start = [], 0, False, 0
    for index, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == separator:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def order_expressions(entity: EntityType, text: str | None, *, tenant, option: str = "$orderby") -> list:
    """ORM order expressions of a $orderby (always ending with the key, so pages are stable)."""
    result = []
    items = _split(text, ",") if text else []
    for item in items:
        match = re.fullmatch(r"\s*(.+?)(?:\s+(asc|desc))?\s*", item, flags=re.I | re.S)
        if not match or not match[1].strip():
            raise QueryError("empty sort item", option=option, position=text.find(item) if text else 0)
        path = "id" if match[1].strip() == "@iot.id" else match[1]  # FROST clients sort by @iot.id
        tree, resolver, visitor = _resolve(entity, path, option, tenant)
        if isinstance(tree, ast.Identifier) and resolver.bound[tree.name].type in ("json", "geometry"):
            raise QueryError(f"cannot sort by '{match[1].strip()}'", option=option)
        try:
            expression = visitor.expression(tree)
        except odata.ODataException as exc:
            raise QueryError(str(exc), option=option) from None
        if isinstance(expression, Q):
            raise QueryError(f"cannot sort by a condition '{match[1].strip()}'", option=option)
        descending = (match[2] or "asc").lower() == "desc"
        result.append(expression.desc() if descending else expression.asc())
    for name in entity.default_order if not items else ():
        result.append(entity.props[name].orm("").asc())
    result.append(F(entity.key_path).asc())
    return result
