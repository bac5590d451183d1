from rest_framework import pagination

from ocx.core.api.params import INT64_MAX, parse_int


class PageNumberPagination(pagination.PageNumberPagination):
    """Default 30, at most 100 (the seeds' rule), ``?page=`` and ``?page_size=``.

    Both go through ``parse_int``: a value that is not a whole number, or out of range, is a 400
    naming the parameter (DRF alone would fall back silently, or pass a 20-digit page on); a
    page past the last one stays DRF's 404 "Invalid page."."""

    page_size = 30
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_number(self, request, paginator):
        value = request.query_params.get(self.page_query_param)
        if value in self.last_page_strings:
            return paginator.num_pages
        return parse_int(value, name=self.page_query_param, minimum=1, default=1)

    def get_page_size(self, request):
        value = request.query_params.get(self.page_size_query_param)
        size = parse_int(value, name=self.page_size_query_param, minimum=1)
        return self.page_size if size is None else min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        return [
            _int_parameter(self.page_query_param, "1-based page number (past the last page: 404).", 1, INT64_MAX),
            _int_parameter(
                self.page_size_query_param,
                f"Default {self.page_size}; larger values are served as {self.max_page_size}.",
                1,
                INT64_MAX,
            ),
        ]


class LimitPagination(pagination.LimitOffsetPagination):
    """``?limit=`` (default 30, at most 100) and ``?offset=``, with a bounded ``count``.

    An exact ``COUNT(*)`` of a large filtered set (100,000 open tasks) costs more than the page
    itself. The count is exact up to ``count_cap`` rows past the requested page; beyond that it
    stops there and ``count_exact`` is false ("1,030+"), so ``next`` stays right and the cost
    stays bounded whatever the table size."""

    default_limit = 30
    max_limit = 100
    count_cap = 1000

    def get_limit(self, request):
        limit = parse_int(request.query_params.get(self.limit_query_param), name=self.limit_query_param, minimum=1)
        return self.default_limit if limit is None else min(limit, self.max_limit)

    def get_offset(self, request):
        # The count's bound (offset + limit + count_cap) is itself a SQL LIMIT: keep it a bigint.
        maximum = INT64_MAX - self.max_limit - self.count_cap
        value = request.query_params.get(self.offset_query_param)
        return parse_int(value, name=self.offset_query_param, minimum=0, maximum=maximum, default=0)

    def get_schema_operation_parameters(self, view):
        return [
            _int_parameter(
                self.limit_query_param,
                f"Default {self.default_limit}; larger values are served as {self.max_limit}.",
                1,
                INT64_MAX,
            ),
            _int_parameter(self.offset_query_param, "Rows to skip.", 0, INT64_MAX - self.max_limit - self.count_cap),
        ]

    def get_count(self, queryset):
        bound = self.get_offset(self.request) + self.limit + self.count_cap
        counted = queryset.order_by()[:bound].count() if hasattr(queryset, "order_by") else len(queryset[:bound])
        self.count_exact = counted < bound
        return counted

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["count_exact"] = self.count_exact
        return response

    def get_paginated_response_schema(self, schema):
        schema = super().get_paginated_response_schema(schema)
        schema["properties"]["count_exact"] = {
            "type": "boolean",
            "description": "False when the count stopped at its bound: there are at least `count` rows.",
        }
        return schema


def _int_parameter(name: str, description: str, minimum: int, maximum: int) -> dict:
    """An integer query parameter with the bounds ``parse_int`` enforces (OpenAPI form)."""
    return {
        "name": name,
        "required": False,
        "in": "query",
        "description": description,
        "schema": {"type": "integer", "minimum": minimum, "maximum": maximum},
    }
