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

  // A shapely ragged MultiPolygon array: coordinates and offsets of rings, parts, shapes.
  function Shapes(packed) {
    this.scale = packed.scale;
    this.xy = int32(packed.coords);
    this.ringOff = int32(packed.rings);
    this.partOff = int32(packed.parts);
    this.shapeOff = int32(packed.tiles);
    this.length = this.shapeOff.length - 1;
  }
  Shapes.prototype.latLngs = function (s, out) {  // appends shape s's polygons to out
    const xy = this.xy, scale = this.scale;
    for (let p = this.shapeOff[s]; p < this.shapeOff[s + 1]; p++) {
      const polygon = [];
      for (let r = this.partOff[p]; r < this.partOff[p + 1]; r++) {
        const ring = [];
        for (let k = this.ringOff[r]; k < this.ringOff[r + 1]; k++) {
          ring.push([xy[2 * k + 1] / scale, xy[2 * k] / scale]);  // lat, lon for Leaflet
        }
        polygon.push(ring);
      }
      out.push(polygon);
    }
    return out;
  };
  Shapes.prototype.contains = function (s, lon, lat) {  // even-odd rule over all rings
    const xy = this.xy, scale = this.scale;
    const x = lon * scale, y = lat * scale;
    let inside = false;
    const first = this.partOff[this.shapeOff[s]], last = this.partOff[this.shapeOff[s + 1]];
    for (let r = first; r < last; r++) {
      const start = this.ringOff[r], end = this.ringOff[r + 1];
      for (let k = start, j = end - 1; k < end; j = k++) {
        const xk = xy[2 * k], yk = xy[2 * k + 1], xj = xy[2 * j], yj = xy[2 * j + 1];
        if ((yk > y) !== (yj > y) && x < ((xj - xk) * (y - yk)) / (yj - yk) + xk) {
          inside = !inside;
        }
      }
    }
    return inside;
  };
  Shapes.prototype.boxes = function () {  // west, south, east, north of each shape
    const out = new Float64Array(4 * this.length);
    for (let s = 0; s < this.length; s++) {
      let w = Infinity, so = Infinity, e = -Infinity, n = -Infinity;
      const first = this.ringOff[this.partOff[this.shapeOff[s]]];
      const last = this.ringOff[this.partOff[this.shapeOff[s + 1]]];
      for (let k = first; k < last; k++) {
        const x = this.xy[2 * k], y = this.xy[2 * k + 1];
        if (x < w) w = x;
        if (x > e) e = x;
        if (y < so) so = y;
        if (y > n) n = y;
      }
      out.set([w, so, e, n], 4 * s);
    }
    return out;
  };

  const map = L.map("map", { preferCanvas: true });
  // The view first (every layer's tiles), then the layers.
  let view = null;
  for (const layer of data.layers) {
    const b = layer.bounds;  // west, south, east, north
    if (!b) continue;
    view = view ? [Math.min(view[0], b[0]), Math.min(view[1], b[1]),
      Math.max(view[2], b[2]), Math.max(view[3], b[3])] : b.slice();
  }
  if (view) {
    map.fitBounds([[view[1], view[0]], [view[3], view[2]]], { maxZoom: 12 });
  } else {
    map.fitWorld();
  }
  // The land layer sits in a pane below the tile pane (z 200): web tiles cover it when
  // they load, and it shows through where they cannot (no network).
  map.createPane("land").style.zIndex = 150;
  const landShapes = new Shapes(data.land);
  const landLatLngs = [];
  for (let s = 0; s < landShapes.length; s++) landShapes.latLngs(s, landLatLngs);
  L.polygon(landLatLngs, {
    renderer: L.canvas({ pane: "land" }), pane: "land", color: "#b9b4a5", weight: 0.6,
    fillColor: "#f1efe6", fillOpacity: 1, interactive: false,
  }).addTo(map);

  const baseLayers = {};
  if (data.basemap) {
    const web = L.tileLayer(data.basemap.url, {
      attribution: data.basemap.attribution, maxZoom: 19,
    });
    web.addTo(map);
    baseLayers["web tiles"] = web;
  }
  map.attributionControl.addAttribution("land: Natural Earth");

  // One Leaflet layer per class of each frame (thousands of layers are slow to add and
  // to pan): each tile is a polygon of it. "nonzero" fills overlapping tiles once
  // instead of cutting holes in the overlaps; explore.py orients shells and holes.
  const renderer = L.canvas({ padding: 0.2 });
  const overlays = {};
  const named = data.layers.length > 1;
  const frames = data.layers.map(function (spec) {
    const tiles = new Shapes(spec.tiles);
    const classOf = int32(spec.classes.codes);
    const members = spec.classes.labels.map(function () { return []; });
    for (let t = 0; t < tiles.length; t++) members[classOf[t]].push(t);
    const layers = spec.classes.labels.map(function (label, c) {
      const latLngs = [];
      for (const t of members[c]) tiles.latLngs(t, latLngs);
      const color = spec.classes.colors[c];
      const options = Object.assign({
        renderer: renderer, color: color, weight: 0.6, opacity: 0.9, fillColor: color,
        fillOpacity: 0.45,
      }, spec.style, { fillRule: "nonzero", interactive: false });
      const layer = L.polygon(latLngs, options);
      layer.addTo(map);  // classes come in drawing order: problems last, so on top
      const swatch = '<span class="byoc-swatch" style="background:' +
        escapeHtml(options.fillColor) + '"></span>';
      let count = members[c].length.toLocaleString("en");
      const hidden = spec.classes.hidden[c];
      if (hidden) count += ", " + hidden.toLocaleString("en") + " without footprint, not drawn";
      const prefix = named ? escapeHtml(spec.name) + ": " : "";
      overlays[swatch + prefix + escapeHtml(label) + " (" + count + ")"] = layer;
      return layer;
    });
    const fields = spec.fields.map(function (f) {
      return { name: f.name, codes: int32(f.codes), values: f.values };
    });
    return {
      tiles: tiles, members: members, layers: layers, boxes: tiles.boxes(),
      fields: fields, popup: spec.popup, tooltip: spec.tooltip, name: spec.name,
    };
  });
  L.control.layers(baseLayers, overlays, { collapsed: false }).addTo(map);

  // The topmost shown tile under a point: last frame, last class, then last tile drawn.
  function tileAt(latlng, want) {
    for (let f = frames.length - 1; f >= 0; f--) {
      const fr = frames[f];
      if (!fr[want].length) continue;  // this frame shows no popup (or tooltip)
      const x = latlng.lng * fr.tiles.scale, y = latlng.lat * fr.tiles.scale;
      const boxes = fr.boxes;
      for (let c = fr.members.length - 1; c >= 0; c--) {
        if (!map.hasLayer(fr.layers[c])) continue;
        const members = fr.members[c];
        for (let j = members.length - 1; j >= 0; j--) {
          const t = members[j];
          if (x < boxes[4 * t] || y < boxes[4 * t + 1] || x > boxes[4 * t + 2]) continue;
          if (y > boxes[4 * t + 3]) continue;
          if (fr.tiles.contains(t, latlng.lng, latlng.lat)) return [fr, t];
        }
      }
    }
    return null;
  }
  function table(fr, t, which) {
    let rows = "";
    for (const i of fr[which]) {
      const f = fr.fields[i];
      const code = f.codes[t];
      if (code < 0) continue;  // missing value: no row
      rows += "<tr><th>" + escapeHtml(f.name) + "</th><td>" + escapeHtml(f.values[code]) +
        "</td></tr>";
    }
    return '<table class="byoc-popup">' + rows + "</table>";
  }
  map.on("click", function (e) {
    const hit = tileAt(e.latlng.wrap(), "popup");
    if (hit) {
      L.popup({ maxWidth: 480 }).setLatLng(e.latlng).setContent(table(hit[0], hit[1], "popup"))
        .openOn(map);
    }
  });
  // Tooltips: the page's own hit test on pointer moves, at most once per frame.
  const tip = L.tooltip({ direction: "top", offset: [0, -8], className: "byoc-tooltip" });
  let pending = null;
  map.on("mousemove", function (e) {
    const first = pending === null;
    pending = e.latlng;
    if (!first) return;
    requestAnimationFrame(function () {
      const latlng = pending;
      pending = null;
      const hit = tileAt(latlng.wrap(), "tooltip");
      if (!hit) {
        map.closeTooltip(tip);
        return;
      }
      tip.setLatLng(latlng).setContent(table(hit[0], hit[1], "tooltip"));
      if (!map.hasLayer(tip)) tip.openOn(map);
    });
  });
  map.on("mouseout", function () { map.closeTooltip(tip); });

  const info = L.control({ position: "bottomleft" });
  info.onAdd = function () {
    const div = L.DomUtil.create("div", "byoc-info");
    const lines = [];
    for (const spec of data.layers) {
      for (const line of spec.info) lines.push((named ? spec.name + ": " : "") + line);
    }
    div.innerHTML = lines.map(escapeHtml).join("<br>");
    return div;
  };
  info.addTo(map);

  let drawn = 0;
  for (const fr of frames) drawn += fr.tiles.length;
  window.byocframeMap = map;  // for scripts and tests driving the page
  // Lets tests and benchmarks see that the page finished (and how long it took).
  document.body.setAttribute("data-drawn", String(drawn));
  document.body.setAttribute("data-ms", String(Math.round(performance.now())));
})();
