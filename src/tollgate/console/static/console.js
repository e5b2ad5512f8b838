// Tollgate console: copy buttons, snippet tabs, confirmations and the usage chart. No inline script anywhere (CSP).
"use strict";

function copyText(id, button) {
  const el = document.getElementById(id);
  if (!el) return;
  const text = el.value !== undefined && el.tagName === "INPUT" ? el.value : el.textContent;
  const done = () => { const old = button.textContent; button.textContent = "Copied"; setTimeout(() => { button.textContent = old; }, 1500); };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => selectFallback(el, done));
  } else {
    selectFallback(el, done);
  }
}

function selectFallback(el, done) {
  const range = document.createRange();
  range.selectNodeContents(el);
  const sel = window.getSelection();
  sel.removeAllRanges();
  sel.addRange(range);
  try { document.execCommand("copy"); done(); } catch (e) { /* left selected for Ctrl+C */ }
}

function selectTab(button) {
  const list = button.closest("[role=tablist]");
  list.querySelectorAll("[role=tab]").forEach((tab) => {
    const selected = tab === button;
    tab.setAttribute("aria-selected", selected ? "true" : "false");
    tab.tabIndex = selected ? 0 : -1;
    const panel = document.getElementById(tab.dataset.tab);
    if (panel) panel.hidden = !selected;
  });
}

const COLORS = ["#3b5bdb", "#e8590c", "#2b8a3e", "#c2255c", "#5f3dc4"];

function drawChart(canvas) {
  if (typeof Chart === "undefined") return;
  const data = JSON.parse(canvas.dataset.chart);
  const stacked = Boolean(data.stacked);
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: data.datasets.map((d, i) => ({
        label: d.label, data: d.data, yAxisID: d.axis || "y", type: d.type || "bar",
        backgroundColor: COLORS[i % COLORS.length], borderColor: COLORS[i % COLORS.length],
        pointRadius: 0, spanGaps: true, stack: d.type === "line" ? undefined : "bars",
      })),
    },
    options: {
      animation: false, responsive: true, maintainAspectRatio: false,
      scales: {
        x: { stacked: stacked },
        y: { stacked: stacked, beginAtZero: true, title: { display: true, text: data.axes.y } },
        y1: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: data.axes.y1 } },
      },
    },
  });
  canvas.dataset.drawn = "true";
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-copy]").forEach((b) => b.addEventListener("click", () => copyText(b.dataset.copy, b)));
  document.querySelectorAll("[role=tablist]").forEach((list) => {
    const tabs = Array.from(list.querySelectorAll("[role=tab]"));
    tabs.forEach((tab, i) => {
      tab.tabIndex = tab.getAttribute("aria-selected") === "true" ? 0 : -1;
      tab.addEventListener("click", () => selectTab(tab));
      tab.addEventListener("keydown", (e) => {
        const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
        if (step) { const next = tabs[(i + step + tabs.length) % tabs.length]; selectTab(next); next.focus(); }
      });
    });
  });
  document.querySelectorAll("form[data-confirm]").forEach((form) => form.addEventListener("submit", (e) => {
    if (!window.confirm(form.dataset.confirm)) e.preventDefault();
  }));
  document.querySelectorAll("canvas[data-chart]").forEach(drawChart);
  document.querySelectorAll("select[data-autosubmit]").forEach((s) => s.addEventListener("change", () => s.form.submit()));
});
