// leaflet.markercluster is a UMD plugin that extends the global L: the UMD build of
// Leaflet (mutable, unlike the ES module namespace) is published on window first.
import L from "leaflet";

window.L = L;
export default L;
