// The map: posts coloured by state, problem posts in their own layer on top with their
// codes written next to them, clustering at city scale, area outlines, and the
// configured tiles (or none: a plain background, a clean no-basemap mode).
import L from "./map-libs.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";
import { groupOf, isProblem } from "./states.js";

const JAKARTA = [-6.2, 106.83];
const OUTLINE = {
  provinsi: { color: "#3c4043", weight: 2.4 },
  kota: { color: "#3c4043", weight: 2 },
  kecamatan: { color: "#6b7075", weight: 1.5 },
  kelurahan: { color: "#8f949a", weight: 0.8 },
};

function clusterIcon(kind) {
  return (cluster) => {
    const count = cluster.getChildCount();
    let group = kind;
    if (kind === "problem") {
      const silent = cluster.getAllChildMarkers().some((m) => m.options.postState === "silent");
      group = silent ? "silent" : "unstaffed";
    }
    const size = count < 10 ? 34 : count < 100 ? 40 : 48;
    const face = h("span", { class: "cluster-count", text: String(count) });
    return L.divIcon({
      html: face,
      className: "cluster cluster-" + group,
      iconSize: L.point(size, size),
    });
  };
}

function pinIcon(post, bigLabels) {
  const group = groupOf(post.state);
  const problem = isProblem(post);
  const face = h(
    "span",
    {
      class: "pin-face state-" + post.state + " group-" + group,
      dataset: { code: post.code, state: post.state },
      title: post.code + " · " + post.name,
    },
    h("span", { class: "pin-dot" }),
    problem || bigLabels ? h("span", { class: "pin-label", text: post.code }) : null,
  );
  return L.divIcon({
    html: face,
    className: "pin" + (problem ? " pin-problem" : ""),
    iconSize: L.point(18, 18),
    iconAnchor: L.point(9, 9),
  });
}

export class PostMap {
  constructor(element, settings, { onSelect, wall }) {
    this.element = element;
    this.onSelect = onSelect;
    this.wall = wall;
    this.markers = new Map();
    this.userMoved = false; // the view follows the data until someone pans or zooms
    this.map = L.map(element, {
      zoomControl: !wall,
      attributionControl: false,
      zoomSnap: 0.5,
      center: JAKARTA,
      zoom: 11,
      minZoom: 3,
      maxZoom: 19, // markercluster needs it even with no tile layer
      keyboard: !wall,
    });
    this.map.on("dragstart", () => {
      this.userMoved = true;
    });
    for (const kind of ["wheel", "dblclick", "touchstart"]) {
      element.addEventListener(kind, () => {
        this.userMoved = true;
      }, { passive: true });
    }
    this.map.createPane("problems").classList.add("pane-problems");
    this.note = h("div", { class: "map-note", hidden: true });
    element.append(this.note);
    this.addBasemap(settings || {});
    this.outlines = L.geoJSON(null, {
      interactive: false,
      style: (feature) => {
        const level = feature.properties && feature.properties.level;
        const look = OUTLINE[level] || OUTLINE.kelurahan;
        return { ...look, fill: false, opacity: 0.9 };
      },
    }).addTo(this.map);
    this.loading = new Map(); // group → resolve, while addLayers works in chunks
    const progress = (group) => (done, total) => {
      if (done >= total && this.loading.has(group)) {
        const resolve = this.loading.get(group);
        this.loading.delete(group);
        resolve();
      }
    };
    const common = {
      showCoverageOnHover: false,
      chunkedLoading: true,
      spiderfyOnMaxZoom: true,
      removeOutsideVisibleBounds: true,
    };
    this.calm = L.markerClusterGroup({
      ...common,
      maxClusterRadius: 60,
      disableClusteringAtZoom: 15,
      iconCreateFunction: clusterIcon("ok"),
      chunkProgress: progress("calm"),
    }).addTo(this.map);
    this.problems = L.markerClusterGroup({
      ...common,
      maxClusterRadius: 36,
      disableClusteringAtZoom: 14,
      clusterPane: "problems",
      iconCreateFunction: clusterIcon("problem"),
      chunkProgress: progress("problems"),
    }).addTo(this.map);
  }

  addBasemap(settings) {
    if (!settings.tiles) {
      this.element.classList.add("no-basemap");
      return;
    }
    const layer = L.tileLayer(settings.tiles, { maxZoom: 19, subdomains: "abc" });
    let failed = 0;
    // Unreachable tiles leave the map as it is without a basemap; a short note says so.
    layer.on("tileerror", () => {
      failed += 1;
      if (failed === 1) {
        this.element.classList.add("no-basemap");
        this.note.textContent = t("map.tiles_failed");
        this.note.hidden = false;
      }
    });
    layer.on("tileload", () => {
      if (failed === 0) this.element.classList.remove("no-basemap");
    });
    layer.addTo(this.map);
    if (settings.attribution) {
      const Attribution = L.Control.extend({
        onAdd: () => h("div", { class: "map-attribution", text: settings.attribution }),
      });
      new Attribution({ position: "bottomright" }).addTo(this.map);
    }
  }

  setBoundaries(collection) {
    this.outlines.clearLayers();
    if (collection && collection.features && collection.features.length) {
      this.outlines.addData(collection);
    }
    this.fit();
  }

  markerFor(post) {
    const marker = L.marker([post.lat, post.lon], {
      icon: pinIcon(post, this.wall),
      pane: isProblem(post) ? "problems" : "markerPane",
      postState: post.state,
      keyboard: false,
      riseOnHover: true,
    });
    marker.on("click", () => this.onSelect(marker.options.postCode));
    marker.options.postCode = post.code;
    marker.options.problem = isProblem(post);
    return marker;
  }

  /** Draws every post (the first load, or after a `reload`); resolves once every pin
   * is placed (markercluster adds them in chunks so the page stays responsive). */
  setPosts(posts) {
    this.calm.clearLayers();
    this.problems.clearLayers();
    this.markers.clear();
    const calm = [];
    const problems = [];
    for (const post of posts) {
      if (post.lat == null || post.lon == null) continue;
      const marker = this.markerFor(post);
      this.markers.set(post.code, marker);
      (marker.options.problem ? problems : calm).push(marker);
    }
    this.fit();
    const placed = Promise.all(
      ["calm", "problems"].map((name) => new Promise((resolve) => this.loading.set(name, resolve))),
    );
    this.calm.addLayers(calm);
    this.problems.addLayers(problems);
    return placed;
  }

  /** One post changed: its pin is redrawn, and moves layer when it became (or stopped
   * being) a problem. */
  updatePost(post) {
    const old = this.markers.get(post.code);
    if (old) {
      (old.options.problem ? this.problems : this.calm).removeLayer(old);
      this.markers.delete(post.code);
    }
    if (post.lat == null || post.lon == null) return;
    const marker = this.markerFor(post);
    this.markers.set(post.code, marker);
    (marker.options.problem ? this.problems : this.calm).addLayer(marker);
  }

  removePost(code) {
    const old = this.markers.get(code);
    if (!old) return;
    (old.options.problem ? this.problems : this.calm).removeLayer(old);
    this.markers.delete(code);
  }

  fit() {
    if (this.userMoved) return;
    let bounds = null;
    if (this.markers.size) {
      bounds = L.latLngBounds([...this.markers.values()].map((m) => m.getLatLng()));
    }
    const outlines = this.outlines.getBounds();
    if (outlines.isValid()) bounds = bounds ? bounds.extend(outlines) : outlines;
    if (bounds && bounds.isValid()) {
      this.map.fitBounds(bounds.pad(0.05), { maxZoom: 15, animate: false });
    }
  }

  focus(code) {
    const marker = this.markers.get(code);
    if (!marker) return;
    this.userMoved = true;
    const group = marker.options.problem ? this.problems : this.calm;
    group.zoomToShowLayer(marker, () => {});
  }

  resize() {
    this.map.invalidateSize({ animate: false });
    this.fit();
  }
}
