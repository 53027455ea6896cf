// Small SVG charts drawn with DOM calls (sizes as SVG attributes, colours by class):
// nothing the CSP would refuse, no chart library.
import { h, s } from "../dom.js";

/** Horizontal bars: [{label, value, cls, text}] scaled to the largest (or to `max`). */
export function bars(items, { max, unit } = {}) {
  const top = max ?? Math.max(1, ...items.map((item) => item.value));
  const rowHeight = 26;
  const width = 320;
  const labelWidth = 120;
  const chart = s("svg", {
    class: "chart bars",
    viewBox: `0 0 ${width} ${rowHeight * items.length + 4}`,
    role: "img",
  });
  items.forEach((item, index) => {
    const y = index * rowHeight + 2;
    const length = Math.max(0, ((width - labelWidth - 56) * item.value) / top);
    chart.append(
      s("text", { x: 0, y: y + 17, class: "chart-label" }, item.label),
      s("rect", { x: labelWidth, y: y + 4, width: length.toFixed(1), height: rowHeight - 8, rx: 3, class: "bar " + (item.cls || "") }),
      s("text", { x: labelWidth + length + 6, y: y + 17, class: "chart-value" }, item.text ?? String(item.value) + (unit || "")),
    );
  });
  return chart;
}

/** One bar split into parts ([{value, cls, label}]) with a legend under it. */
export function stacked(parts, total) {
  const sum = total || parts.reduce((all, part) => all + part.value, 0) || 1;
  const width = 320;
  const chart = s("svg", { class: "chart stacked", viewBox: `0 0 ${width} 22`, role: "img" });
  let x = 0;
  for (const part of parts) {
    const length = (width * part.value) / sum;
    if (length > 0) chart.append(s("rect", { x: x.toFixed(1), y: 2, width: length.toFixed(1), height: 18, class: "bar " + part.cls }));
    x += length;
  }
  const legend = h("ul", { class: "legend" }, parts.map((part) =>
    h("li", {}, h("span", { class: "swatch " + part.cls }), part.label + " " + part.value)));
  return h("div", { class: "stacked-chart" }, chart, legend);
}

/** A share (0..1) as a ring with the percentage in the middle. */
export function ring(share, cls) {
  const radius = 40;
  const length = 2 * Math.PI * radius;
  const filled = Math.max(0, Math.min(1, share ?? 0)) * length;
  return s("svg", { class: "chart ring", viewBox: "0 0 100 100", role: "img" },
    s("circle", { cx: 50, cy: 50, r: radius, class: "ring-back" }),
    s("circle", { cx: 50, cy: 50, r: radius, class: "ring-front " + (cls || ""), "stroke-dasharray": `${filled.toFixed(1)} ${length.toFixed(1)}`, transform: "rotate(-90 50 50)" }),
    s("text", { x: 50, y: 57, class: "ring-text" }, share == null ? "—" : Math.round(share * 100) + "%"));
}
