"""Pagination as convex-backend implements it: crates/isolate/src/environment/udf/
async_syscall.rs (``query_page``, ``read_page_from_query``) and crates/database/src/query/
index_range.rs (read budgets, split cursors)."""

import pytest

from convex_sim import ConvexSim, QueryError, define_schema, define_table, v

SCHEMA = define_schema({"rows": define_table({"n": v.int64(), "keep": v.boolean()}).index("by_n", ["n"])})


@pytest.fixture
def sim():
    sim = ConvexSim(SCHEMA, seed=0)
    sim.run(lambda ctx: [ctx.db.insert("rows", {"n": n, "keep": n % 2 == 0}) for n in range(10)])
    return sim


def page(sim, keep_only=False, **options):
    """One page over ``rows.by_n``, its documents as their ``n``."""
    def run(ctx):
        q = ctx.db.query("rows").with_index("by_n")
        if keep_only:
            q = q.filter(lambda f: f.eq(f.field("keep"), True))
        result = q.paginate({"cursor": None, **options})
        return {**result, "page": [d["n"] for d in result["page"]]}
    return sim.run(run)


def test_a_second_paginate_in_one_execution_is_an_error(sim):
    """async_syscall.rs ``query_page``: "This query or mutation function ran multiple paginated
    queries. Convex only supports a single paginated query in each function." """
    def twice(ctx):
        ctx.db.query("rows").paginate({"num_items": 1, "cursor": None})
        ctx.db.query("rows").paginate({"num_items": 1, "cursor": None})

    with pytest.raises(QueryError, match="ran multiple paginated queries"):
        sim.run(twice)


def test_a_page_ending_on_the_last_row_is_not_done(sim):
    """``is_done`` is ``cursor.position == End``, and ``read_page_from_query`` stops reading as
    soon as the page is full, so a page that fills on the last row is not done; the next one is
    empty and done (convex-test reports done at once: it looks one row ahead)."""
    full = page(sim, num_items=10)
    assert full["page"] == list(range(10)) and full["is_done"] is False
    after = page(sim, num_items=10, cursor=full["continue_cursor"])
    assert after["page"] == [] and after["is_done"] is True


def test_maximum_rows_read_ends_the_page_with_split_required(sim):
    """index_range.rs ``start_next``: once ``rows_read >= maximum_rows_read`` the next read fails
    with a pagination limit, which ``read_page_from_query`` turns into ``SplitRequired`` with the
    cursor after the last row read. Rows filtered out count as read."""
    first = page(sim, keep_only=True, num_items=5, maximum_rows_read=3)
    assert first["page"] == [0, 2] and first["page_status"] == "SplitRequired"
    assert first["is_done"] is False
    rest = page(sim, keep_only=True, num_items=5, cursor=first["continue_cursor"])
    assert rest["page"] == [4, 6, 8] and rest["page_status"] is None


def test_maximum_bytes_read_scans_at_least_one_row(sim):
    """index_range.rs: the byte budget is checked before each further row ("so they can make
    progress"): with a 1-byte budget a page holds exactly one row."""
    result = page(sim, num_items=5, maximum_bytes_read=1)
    assert result["page"] == [0] and result["page_status"] == "SplitRequired"


def test_split_cursor_is_after_the_middle_row(sim):
    """index_range.rs ``split_cursor_position``: with more than two rows read, the cursor after
    row ``len / 2``; refetching up to it (``end_cursor``) gives the first half of the page."""
    result = page(sim, num_items=5)
    assert result["page"] == [0, 1, 2, 3, 4]
    half = page(sim, num_items=5, end_cursor=result["split_cursor"])
    assert half["page"] == [0, 1, 2] and half["is_done"] is False
    assert page(sim, num_items=2)["split_cursor"] is None


def test_a_page_past_three_quarters_of_its_budget_recommends_a_split(sim):
    """async_syscall.rs: ``SplitRecommended`` when ``is_approaching_data_limit`` (rows read past
    ``soft_data_limit`` = 3/4 of ``maximum_rows_read``)."""
    assert page(sim, num_items=4, maximum_rows_read=5)["page_status"] == "SplitRecommended"
    assert page(sim, num_items=3, maximum_rows_read=5)["page_status"] is None


def test_zero_budgets_and_page_sizes_are_rejected(sim):
    """``query_page``: "Must request at least 1 document while paginating" and
    "maximumRowsRead and maximumBytesRead must be greater than 0"."""
    with pytest.raises(QueryError, match="num_items must be an int > 0"):
        page(sim, num_items=0)
    with pytest.raises(QueryError, match="maximum_rows_read must be an int > 0"):
        page(sim, num_items=1, maximum_rows_read=0)


def test_split_required_from_typescript(ts):
    """The same budget through ``1.0/queryPage`` (convex-js query_impl.ts passes
    ``maximumRowsRead``/``maximumBytesRead``)."""
    for i in range(5):
        ts.mutation("messages:send", {"author": "ann", "body": f"m{i}", "channel": "p"})
    opts = {"numItems": 4, "cursor": None, "maximumRowsRead": 2}
    first = ts.query("messages:page", {"channel": "p", "paginationOpts": opts})
    assert [m["body"] for m in first["page"]] == ["m4", "m3"]
    assert first["pageStatus"] == "SplitRequired" and first["isDone"] is False
