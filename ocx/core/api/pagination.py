from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """Default 30, at most 100 (the seeds' rule), ``?page=`` and ``?page_size=``."""

    page_size = 30
    page_size_query_param = "page_size"
    max_page_size = 100


class LimitPagination(pagination.LimitOffsetPagination):
    """``?limit=`` (default 30, at most 100) and ``?offset=``, with a bounded ``count``.

    An exact ``COUNT(*)`` of a large filtered set (100,000 open tasks) costs more than the page
    itself. The count is exact up to ``count_cap`` rows past the requested page; beyond that it
    stops there and ``count_exact`` is false ("1,030+"), so ``next`` stays right and the cost
    stays bounded whatever the table size."""

    default_limit = 30
    max_limit = 100
    count_cap = 1000

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
