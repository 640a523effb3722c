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
  // Built from the page's packed base64 arrays, or (level of detail) from decoded ones.
  function Shapes(packed, arrays) {
    this.scale = packed.scale;
    this.xy = arrays ? arrays.xy : int32(packed.coords);
    this.ringOff = arrays ? arrays.rings : int32(packed.rings);
    this.partOff = arrays ? arrays.parts : int32(packed.parts);
    this.shapeOff = arrays ? arrays.tiles : int32(packed.tiles);
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
  // A view in the address, as OpenStreetMap writes it: page.html#zoom/lat/lon
  const asked = /^#(\d+)\/(-?[\d.]+)\/(-?[\d.]+)$/.exec(location.hash);
  if (asked) map.setView([Number(asked[2]), Number(asked[3])], Number(asked[1]));
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
  function legendEntry(spec, c, color, count) {
    const swatch = '<span class="byoc-swatch" style="background:' + escapeHtml(color) +
      '"></span>';
    let text = count.toLocaleString("en");
    const hidden = spec.classes.hidden[c];
    if (hidden) text += ", " + hidden.toLocaleString("en") + " without footprint, not drawn";
    const prefix = named ? escapeHtml(spec.name) + ": " : "";
    return swatch + prefix + escapeHtml(spec.classes.labels[c]) + " (" + text + ")";
  }
  function pathOptions(spec, c, extra) {
    const color = spec.classes.colors[c];
    return Object.assign({
      renderer: renderer, color: color, weight: 0.6, opacity: 0.9, fillColor: color,
      fillOpacity: 0.45,
    }, spec.style, extra, { fillRule: "nonzero", interactive: false });
  }
  // The topmost shown tile of a set of tiles (classes, then tiles, last first) at x, y.
  function hitIn(set, layers, x, y) {
    const boxes = set.boxes;
    for (let c = set.members.length - 1; c >= 0; c--) {
      if (!map.hasLayer(layers[c])) continue;
      const members = set.members[c];
      for (let j = members.length - 1; j >= 0; j--) {
        const t = members[j], s = set.shapeOf ? set.shapeOf[t] : t;
        if (x < boxes[4 * s] || y < boxes[4 * s + 1] || x > boxes[4 * s + 2]) continue;
        if (y > boxes[4 * s + 3]) continue;
        if (set.tiles.contains(s, x / set.tiles.scale, y / set.tiles.scale)) return t;
      }
    }
    return -1;
  }
  function tableOf(fields, indices, t) {
    let rows = "";
    for (const i of indices) {
      const value = fields[i].text(t);
      if (value === null) continue;  // missing value: no row
      rows += "<tr><th>" + escapeHtml(fields[i].name) + "</th><td>" + escapeHtml(value) +
        "</td></tr>";
    }
    return '<table class="byoc-popup">' + rows + "</table>";
  }
  function textField(name, codes, values) {
    return { name: name, text: function (t) { return codes[t] < 0 ? null : values[codes[t]]; } };
  }

  function plainFrame(spec) {
    const tiles = new Shapes(spec.tiles);
    const classOf = int32(spec.classes.codes);
    const members = spec.classes.labels.map(function () { return []; });
    for (let t = 0; t < tiles.length; t++) members[classOf[t]].push(t);
    const layers = spec.classes.labels.map(function (label, c) {
      const latLngs = [];
      for (const t of members[c]) tiles.latLngs(t, latLngs);
      const options = pathOptions(spec, c, {});
      const layer = L.polygon(latLngs, options);
      layer.addTo(map);  // classes come in drawing order: problems last, so on top
      if (spec.legend !== false) {
        overlays[legendEntry(spec, c, options.fillColor, members[c].length)] = layer;
      }
      return layer;
    });
    const fields = spec.fields.map(function (f) {
      return textField(f.name, int32(f.codes), f.values);
    });
    const set = { tiles: tiles, members: members, boxes: tiles.boxes() };
    return {
      popup: spec.popup, tooltip: spec.tooltip, drawn: tiles.length,
      hit: function (latlng, which) {
        const t = hitIn(set, layers, latlng.lng * tiles.scale, latlng.lat * tiles.scale);
        return t < 0 ? null : tableOf(fields, spec[which], t);
      },
    };
  }

  // --- levels of detail (byocframe/maps/lod.py) ---------------------------------------
  // Cells the tiles touch, merged per class, until the view holds at most view_tiles
  // tiles; then the tiles of the groups in view, each inflated once (gzip, JSON).
  async function inflate(text) {
    const bytes = atob(text);
    const raw = new Uint8Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) raw[i] = bytes.charCodeAt(i);
    const stream = new Blob([raw]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }
  function offsets(counts) {  // lengths to offsets (a leading 0)
    const out = new Int32Array(counts.length + 1);
    for (let i = 0; i < counts.length; i++) out[i + 1] = out[i] + counts[i];
    return out;
  }
  function decodeGroup(d, scale, nClasses) {
    const xy = new Int32Array(d.x.length);
    let x = 0, y = 0;
    for (let i = 0; i < d.x.length; i += 2) {  // deltas from the previous vertex
      x += d.x[i];
      y += d.x[i + 1];
      xy[i] = x;
      xy[i + 1] = y;
    }
    const tiles = new Shapes({ scale: scale }, {
      xy: xy, rings: offsets(d.r), parts: offsets(d.p), tiles: offsets(d.g),
    });
    const members = [];
    for (let c = 0; c < nClasses; c++) members.push([]);
    for (let t = 0; t < d.c.length; t++) members[d.c[t]].push(t);
    const fields = d.f.map(function (f) {
      if (f.k) return textField(f.n, f.k, f.v);
      const seconds = new Float64Array(f.d.length), missing = new Set(f.z);
      let sum = 0;
      for (let t = 0; t < f.d.length; t++) seconds[t] = sum += f.d[t];
      return { name: f.n, text: function (t) {
        if (missing.has(t)) return null;
        return new Date(seconds[t] * 1000).toISOString().slice(0, 19).replace("T", " ") +
          " UTC";
      } };
    });
    return {
      tiles: tiles, members: members, boxes: tiles.boxes(), fields: fields,
      shapeOf: d.i ? Int32Array.from(d.i) : null, n: d.c.length,
    };
  }
  function lodFrame(spec) {
    const lod = spec.lod, ov = lod.overview, scale = Math.pow(10, spec.decimals);
    const labels = spec.classes.labels, K = labels.length;
    const cells = int32(ov.cells), counts = int32(ov.counts), size = ov.cell;
    const rowOf = new Map();
    for (let i = 0; i < cells.length; i++) rowOf.set(cells[i], i);
    function cellBox(id) {  // south, west, north, east of a cell
      const w = (id % ov.cols) * size - 180, s = Math.floor(id / ov.cols) * size - 90;
      return [s, w, Math.min(s + size, 90), Math.min(w + size, 180)];
    }
    const wholes = [], cellLayers = [], tileLayers = [];
    for (let c = 0; c < K; c++) {
      const latLngs = [];
      for (let i = 0; i < cells.length; i++) {
        if (!counts[i * K + c]) continue;
        const b = cellBox(cells[i]);
        latLngs.push([[b[0], b[1]], [b[0], b[3]], [b[2], b[3]], [b[2], b[1]]]);
      }
      // no outlines: touching cells read as one merged footprint
      const cellLayer = L.polygon(latLngs, pathOptions(spec, c, { stroke: false }));
      const tileLayer = L.polygon([], pathOptions(spec, c, {}));
      const whole = L.layerGroup([cellLayer]).addTo(map);
      if (spec.legend !== false) {
        const color = pathOptions(spec, c, {}).fillColor;
        overlays[legendEntry(spec, c, color, spec.classes.totals[c])] = whole;
      }
      wholes.push(whole);
      cellLayers.push(cellLayer);
      tileLayers.push(tileLayer);
    }
    const groups = lod.groups.map(function (g) { return { spec: g, tiles: null }; });
    const frame = {
      popup: spec.popup, tooltip: spec.tooltip, drawn: spec.drawn, lod: true,
      mode: "overview", shownTiles: 0, shown: [], pending: 0,
    };
    let generation = 0;
    frame.refresh = async function () {
      const mine = ++generation;
      frame.pending++;
      try {
        const b = map.getBounds();
        const w = b.getWest(), s = b.getSouth(), e = b.getEast(), n = b.getNorth();
        const inView = groups.filter(function (g) {
          return g.spec.b.some(function (x) {
            return x[0] <= e && x[2] >= w && x[1] <= n && x[3] >= s;
          });
        });
        let total = 0;
        for (const g of inView) total += g.spec.n;
        const tiles = total <= lod.view_tiles && inView.length > 0;
        if (tiles) {
          await Promise.all(inView.filter(function (g) { return !g.tiles; }).map(
            async function (g) { g.tiles = decodeGroup(await inflate(g.spec.z), scale, K); }));
        }
        if (mine !== generation) return;  // the view moved on meanwhile
        for (let c = 0; c < K; c++) {
          const latLngs = [];
          if (tiles) {
            for (const g of inView) {
              const set = g.tiles;
              for (const t of set.members[c]) {
                set.tiles.latLngs(set.shapeOf ? set.shapeOf[t] : t, latLngs);
              }
            }
          }
          tileLayers[c].setLatLngs(latLngs);
          const show = tiles ? tileLayers[c] : cellLayers[c];
          const hide = tiles ? cellLayers[c] : tileLayers[c];
          wholes[c].removeLayer(hide);
          wholes[c].addLayer(show);
        }
        frame.mode = tiles ? "tiles" : "overview";
        frame.shown = tiles ? inView : [];
        frame.shownTiles = tiles ? total : 0;
      } finally {
        frame.pending--;
        lodChanged();
      }
    };
    function cellTable(latlng) {
      const col = Math.floor((latlng.lng + 180) / size), row = Math.floor((latlng.lat + 90) / size);
      const i = rowOf.get(row * ov.cols + col);
      if (i === undefined) return null;
      let shown = false, rows = "", all = 0;
      for (let c = 0; c < K; c++) {
        const k = counts[i * K + c];
        all += k;
        if (!k || !map.hasLayer(wholes[c])) continue;
        shown = true;
        rows += "<tr><th>" + escapeHtml(labels[c]) + "</th><td>" + k.toLocaleString("en") +
          "</td></tr>";
      }
      if (!shown) return null;
      const b = cellBox(row * ov.cols + col);
      return '<table class="byoc-popup byoc-cell"><tr><th>cell</th><td>' +
        b[1] + " to " + b[3] + " E, " + b[0] + " to " + b[2] + " N</td></tr>" +
        "<tr><th>tiles</th><td>" + all.toLocaleString("en") + " touch it</td></tr>" + rows +
        '<tr><td colspan="2">zoom in to see the tiles</td></tr></table>';
    }
    frame.hit = function (latlng, which) {
      if (frame.mode === "overview") return cellTable(latlng);
      for (let k = frame.shown.length - 1; k >= 0; k--) {
        const set = frame.shown[k].tiles;
        const t = hitIn(set, wholes, latlng.lng * scale, latlng.lat * scale);
        if (t >= 0) return tableOf(set.fields, spec[which], t);
      }
      return null;
    };
    return frame;
  }

  const frames = data.layers.map(function (spec) {
    return spec.lod ? lodFrame(spec) : plainFrame(spec);
  });
  // What the level-of-detail layers show, for scripts and tests: "overview" or "tiles",
  // tiles drawn one by one, and whether a change of view is still being drawn.
  function lodChanged() {
    const lods = frames.filter(function (f) { return f.lod; });
    if (!lods.length) return;
    let tiles = 0, pending = 0;
    for (const f of lods) {
      tiles += f.shownTiles;
      pending += f.pending;
    }
    document.body.setAttribute("data-lod", lods.some(function (f) {
      return f.mode === "tiles";
    }) ? "tiles" : "overview");
    document.body.setAttribute("data-lod-tiles", String(tiles));
    document.body.setAttribute("data-lod-pending", String(pending));
  }
  // legend=False on every layer: no legend (as geopandas' explore(legend=False))
  if (Object.keys(overlays).length) {
    L.control.layers(baseLayers, overlays, { collapsed: false }).addTo(map);
  }

  // The popup (or tooltip) table of the topmost shown tile under a point, last frame first.
  function tableAt(latlng, want) {
    for (let f = frames.length - 1; f >= 0; f--) {
      if (!frames[f][want].length) continue;  // this frame shows no popup (or tooltip)
      const html = frames[f].hit(latlng, want);
      if (html !== null) return html;
    }
    return null;
  }
  map.on("click", function (e) {
    const html = tableAt(e.latlng.wrap(), "popup");
    if (html) L.popup({ maxWidth: 480 }).setLatLng(e.latlng).setContent(html).openOn(map);
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
      const html = tableAt(latlng.wrap(), "tooltip");
      if (!html) {
        map.closeTooltip(tip);
        return;
      }
      tip.setLatLng(latlng).setContent(html);
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
  for (const fr of frames) drawn += fr.drawn;
  window.byocframeMap = map;  // for scripts and tests driving the page
  const lods = frames.filter(function (f) { return f.lod; });
  map.on("moveend", function () { for (const f of lods) f.refresh(); });
  // Lets tests and benchmarks see that the page finished (and how long it took): after
  // the level-of-detail layers drew the first view.
  Promise.all(lods.map(function (f) { return f.refresh(); })).then(function () {
    document.body.setAttribute("data-drawn", String(drawn));
    document.body.setAttribute("data-ms", String(Math.round(performance.now())));
  });
})();
