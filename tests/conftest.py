import pytest


@pytest.fixture(scope="session")
def regions():
    from sinoloc.tools.regions import get_region_index

    return get_region_index()
