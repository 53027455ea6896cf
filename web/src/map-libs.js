// Imported after ./leaflet.js so that the plugin finds window.L when it runs.
import L from "./leaflet.js";
import "leaflet.markercluster";

export default L;
