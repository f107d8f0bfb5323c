"""Places below the district and where people live: a population proxy per district and the
township / village gazetteer, both derived from a national division-code dataset."""
