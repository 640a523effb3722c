"""Data shipped with byocframe.

``ne_110m_land.geojson``: land of the world at 1:110 million, for the offline map
background and the synthetic demo collection. ``leaflet/``: Leaflet 1.9.4
(BSD-2-Clause, licence in ``leaflet/LICENSE``), inlined into the pages of
`byocframe.explore`. Sources and hashes: ``PROVENANCE.md`` next to them.
"""
