"""Reports: the rollups ingest keeps (:mod:`central.reports.rollups`), the queries the office pages and exports
read (:mod:`central.reports.queries`), their tables (:mod:`central.reports.tables`), exports and SVG charts."""
