from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """Default 30, at most 100 (the seeds' rule), ``?page=`` and ``?page_size=``."""

    page_size = 30
    page_size_query_param = "page_size"
    max_page_size = 100


class LimitPagination(pagination.LimitOffsetPagination):
    default_limit = 30
    max_limit = 100
