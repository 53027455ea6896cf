-- Area boundaries (issue 12, SPEC §10): one outline per area, imported from GeoJSON with
-- `posko import boundaries`. The geometry is kept as GeoJSON text (a Polygon or
-- MultiPolygon, [longitude, latitude] positions) so the web map can serve it as it is;
-- the bounding box lets /peta and the web map pick and frame outlines without parsing.
CREATE TABLE area_boundaries (
    area_id      INTEGER PRIMARY KEY REFERENCES areas(id) ON DELETE CASCADE,
    geometry     TEXT NOT NULL,
    vertices     INTEGER NOT NULL,
    min_lon      REAL NOT NULL,
    min_lat      REAL NOT NULL,
    max_lon      REAL NOT NULL,
    max_lat      REAL NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
