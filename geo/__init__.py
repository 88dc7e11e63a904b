"""Pure geometry rules on shapely: no database, no Flask."""
