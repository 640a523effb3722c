"""Data shipped with byocframe.

``ne_110m_land.geojson``: land of the world at 1:110 million, for the offline map
background and the synthetic demo collection. See ``PROVENANCE.md`` next to it.
"""
