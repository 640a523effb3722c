// The page script of byocframe.explore: draws the tiles written by explore.py.
// Reads one JSON block (id "byoc-data"); needs only Leaflet, inlined before it.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("byoc-data").textContent);

  // Int32 arrays travel as little-endian base64 (numpy "<i4"), a third of the size of
  // JSON numbers and parsed without a JSON pass.
  function int32(text) {
    const bytes = atob(text);
    const out = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = bytes.charCodeAt(i);
    return new Int32Array(out.buffer);
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  const map = L.map("map", { preferCanvas: true, worldCopyJump: false });
  // The land layer sits in a pane below the tile pane (z 200): web tiles cover it when
  // they load, and it shows through where they cannot (no network).
  map.createPane("land").style.zIndex = 150;
  const landRenderer = L.canvas({ pane: "land" });
  const tileRenderer = L.canvas({ padding: 0.2 });

  function rings(geom, scale) {
    // geom: {coords, rings, parts, tiles} offsets of a shapely ragged MultiPolygon array
    const xy = int32(geom.coords);
    const ringOff = int32(geom.rings);
    const partOff = int32(geom.parts);
    const tileOff = int32(geom.tiles);
    const out = [];
    for (let t = 0; t + 1 < tileOff.length; t++) {
      const polygons = [];
      for (let p = tileOff[t]; p < tileOff[t + 1]; p++) {
        const polygon = [];
        for (let r = partOff[p]; r < partOff[p + 1]; r++) {
          const ring = [];
          for (let k = ringOff[r]; k < ringOff[r + 1]; k++) {
            ring.push([xy[2 * k + 1] / scale, xy[2 * k] / scale]);  // lat, lon for Leaflet
          }
          polygon.push(ring);
        }
        polygons.push(polygon);
      }
      out.push(polygons);
    }
    return out;
  }

  const landShapes = rings(data.land, data.land.scale);
  const landStyle = {
    renderer: landRenderer, pane: "land", color: "#b9b4a5", weight: 0.6,
    fillColor: "#f1efe6", fillOpacity: 1, interactive: false,
  };
  const land = L.layerGroup(landShapes.map(function (s) { return L.polygon(s, landStyle); }));
  land.addTo(map);

  const overlays = {};
  const baseLayers = {};
  if (data.basemap) {
    const web = L.tileLayer(data.basemap.url, {
      attribution: data.basemap.attribution, maxZoom: 19, crossOrigin: false,
    });
    web.addTo(map);
    baseLayers["web tiles"] = web;
  }
  map.attributionControl.addAttribution("land: Natural Earth");

  const fields = data.fields.map(function (f) {
    return { name: f.name, codes: int32(f.codes), values: f.values };
  });

  function popup(layer) {
    const i = layer.options.tileIndex;
    let rows = "";
    for (const f of fields) {
      const code = f.codes[i];
      if (code < 0) continue;  // missing value: no row
      rows += "<tr><th>" + escapeHtml(f.name) + "</th><td>" + escapeHtml(f.values[code]) +
        "</td></tr>";
    }
    return '<table class="byoc-popup">' + rows + "</table>";
  }

  const shapes = rings(data.tiles, data.tiles.scale);
  const classOf = int32(data.classes.codes);
  const groups = data.classes.labels.map(function () { return []; });
  for (let i = 0; i < shapes.length; i++) {
    groups[classOf[i]].push(i);
  }
  let drawn = 0;
  // Classes are listed in drawing order (problems last, so on top).
  data.classes.labels.forEach(function (label, c) {
    const color = data.classes.colors[c];
    const style = {
      renderer: tileRenderer, color: color, weight: 0.6, opacity: 0.9,
      fillColor: color, fillOpacity: 0.45,
    };
    const layers = groups[c].map(function (i) {
      return L.polygon(shapes[i], Object.assign({ tileIndex: i }, style));
    });
    drawn += layers.length;
    const group = L.featureGroup(layers).bindPopup(popup, { maxWidth: 480 });
    group.addTo(map);
    const swatch = '<span class="byoc-swatch" style="background:' + color + '"></span>';
    overlays[swatch + escapeHtml(label) + " (" + layers.length.toLocaleString("en") + ")"] =
      group;
  });
  L.control.layers(baseLayers, overlays, { collapsed: false }).addTo(map);

  const info = L.control({ position: "bottomleft" });
  info.onAdd = function () {
    const div = L.DomUtil.create("div", "byoc-info");
    div.innerHTML = data.info.map(escapeHtml).join("<br>");
    return div;
  };
  info.addTo(map);

  const b = data.bounds;  // west, south, east, north
  if (b) {
    map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
  } else {
    map.fitWorld();
  }
  window.byocframeMap = map;  // for scripts and tests driving the page
  // Lets tests and benchmarks see that the page finished (and how long it took).
  document.body.setAttribute("data-drawn", String(drawn));
  document.body.setAttribute("data-ms", String(Math.round(performance.now())));
})();
