// The technician's page: everything it does is a GET.
"use strict";
(function () {
  var errs = [];
  function recordError(msg) {
    errs.push(String(msg));
    var e = document.getElementById("errors");
    e.textContent = errs.join("\n");
    document.body.setAttribute("data-errors", errs.length);
  }
  window.addEventListener("error", function (ev) { recordError(ev.message || ev); });
  window.addEventListener("unhandledrejection", function (ev) { recordError(ev.reason); });
  document.addEventListener("securitypolicyviolation", function (ev) { recordError("CSP blocked " + ev.blockedURI + " (" + ev.violatedDirective + ")"); });
  var consoleError = console.error;
  console.error = function () { recordError(Array.prototype.join.call(arguments, " ")); consoleError.apply(console, arguments); };

  var $ = function (id) { return document.getElementById(id); };
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function fmtNum(v) {
    if (typeof v !== "number") return String(v);
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-4 || a >= 1e15)) return v.toExponential(4);
    return String(Math.round(v * 1e6) / 1e6);
  }
  function fmtAge(s) {
    if (s < 0) s = 0;
    if (s < 120) return Math.round(s) + " s";
    if (s < 7200) return Math.round(s / 60) + " min";
    if (s < 172800) return (s / 3600).toFixed(1) + " h";
    return (s / 86400).toFixed(1) + " d";
  }
  function fmtBytes(b) {
    if (b < 1024) return b + " B";
    if (b < 1048576) return (b / 1024).toFixed(1) + " KiB";
    return (b / 1048576).toFixed(2) + " MiB";
  }

  var state = null, stateAt = 0;
  function serverNow() { return state ? Date.parse(state.now) / 1000 + (Date.now() - stateAt) / 1000 : Date.now() / 1000; }

  // Status fields that are lists or objects (alarms, modem, link_watchdog):
  // alarms as "rule: state (severity)", the rest as compact JSON.
  function fmtStruct(k, v) {
    if (k === "alarms" && Array.isArray(v)) {
      return v.map(function (a) { return a.rule + ": " + a.state + (a.severity ? " (" + a.severity + ")" : ""); }).join(", ") || "none";
    }
    if (Array.isArray(v)) return v.length ? v.join(", ") : "none";
    return JSON.stringify(v);
  }

  var ovOrder = ["alarms_active", "version", "board", "uptime_s", "clock_synced", "uplink_connected", "uplink_connected_since", "uplink_last_error",
    "buffer_depth", "buffer_bytes", "oldest_unsent_age_s", "dropped_total", "bytes_sent_today", "budget_left_today",
    "config_version", "config_source", "config_hash"];
  function renderOverview() {
    var ov = state.overview || {}, dl = $("ov");
    dl.textContent = "";
    var keys = ovOrder.filter(function (k) { return k in ov; });
    Object.keys(ov).sort().forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); });
    keys.forEach(function (k) {
      var v = ov[k], d = el("div");
      if (k === "buffer_bytes" || k.indexOf("bytes_") === 0 || k.indexOf("budget_left") === 0) v = fmtBytes(v);
      else if (k === "uptime_s" || k === "oldest_unsent_age_s") v = fmtAge(v);
      else if (k === "config_hash") v = String(v).slice(0, 12);
      var raised = k === "alarms_active" && Array.isArray(v) && v.length > 0;
      if (v !== null && typeof v === "object") v = fmtStruct(k, v);
      var dd = el("dd", "", typeof v === "boolean" ? (v ? "yes" : "no") : String(v));
      if (raised) dd.className = "bad";
      if (v === false && (k === "clock_synced" || k === "uplink_connected")) dd.className = "bad";
      if (k.indexOf("error") >= 0 || k.indexOf("failing") >= 0 || k.indexOf("read_only") >= 0) dd.className = "bad";
      d.appendChild(el("dt", "", k.replace(/_/g, " ")));
      d.appendChild(dd);
      dl.appendChild(d);
    });
    $("device").textContent = state.device;
  }

  function renderTiles() {
    var box = $("tiles"), now = serverNow();
    box.textContent = "";
    state.sensors.forEach(function (s) {
      var t = el("div", "tile" + (s.not_fitted ? " nf" : s.consecutive_errors > 0 ? " err" : ""));
      t.setAttribute("data-sensor", s.name);
      var h = el("h3", "", s.name);
      h.appendChild(el("small", "", s.driver + " · " + s.interval));
      t.appendChild(h);
      s.values.forEach(function (p) {
        var row = el("div", "val");
        row.setAttribute("data-series", p.name);
        row.appendChild(el("span", "", p.name.slice(s.name.length + 1)));
        var v = el("span");
        var b = el("b", "", fmtNum(p.value));
        b.setAttribute("data-value", String(p.value));
        b.setAttribute("data-ts", p.ts);
        v.appendChild(b);
        v.appendChild(document.createTextNode(" " + p.unit));
        row.appendChild(v);
        t.appendChild(row);
      });
      var last = s.values.reduce(function (m, p) { return Math.max(m, Date.parse(p.ts) / 1000); }, 0);
      t.appendChild(el("small", "", last ? "read " + fmtAge(now - last) + " ago" : "no value yet"));
      if (s.consecutive_errors > 0 || s.not_fitted) {
        t.appendChild(el("div", "bad", (s.not_fitted ? "not fitted: " : "failing (" + s.consecutive_errors + "×): ") + (s.last_error || "")));
        var ul = el("ul", "hint");
        (s.hints || []).forEach(function (x) { ul.appendChild(el("li", "", "check: " + x)); });
        t.appendChild(ul);
      }
      box.appendChild(t);
    });
  }

  // Plots: one small chart per series.
  var range = "24h", charts = {}, plotFrom = 0, rangeSec = { "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800 };
  function renderRanges() {
    var r = $("ranges");
    r.textContent = "";
    Object.keys(rangeSec).forEach(function (k) {
      var b = el("button", k === range ? "on" : "", k);
      b.type = "button";
      b.onclick = function () { range = k; renderRanges(); loadPlots(); };
      r.appendChild(b);
    });
  }
  function loadPlots() {
    document.body.removeAttribute("data-plots");
    return fetch("api/series?range=" + range).then(function (r) {
      if (!r.ok) throw new Error("plots: HTTP " + r.status);
      return r.json();
    }).then(function (d) {
      var box = $("plots");
      Object.keys(charts).forEach(function (k) { charts[k].u.destroy(); });
      charts = {};
      box.textContent = "";
      plotFrom = d.from;
      $("cover").textContent = d.oldest ? (d.oldest > d.from ? "the buffer holds readings from " + new Date(d.oldest * 1000).toLocaleString() + (d.keep ? " (delivered readings are kept " + fmtAge(d.keep) + ", then pruned; live values add on)" : " (delivered readings are pruned; live values add on)") : "") : "the buffer is empty";
      d.series.forEach(function (s) { if (s.name.indexOf("karana.") !== 0) addChart(box, s); });
      (state ? state.sensors : []).forEach(function (si) {
        si.values.forEach(function (p) { if (!charts[p.name]) addChart(box, { name: p.name, unit: p.unit, t: [], v: [] }); });
      });
      if (state) extend(state.points || []);
      checkDrawn();
    });
  }
  function addChart(box, s) {
    var div = el("div", "plot");
    div.setAttribute("data-series", s.name);
    div.appendChild(el("h4", "", s.name + (s.unit ? " (" + s.unit + ")" : "")));
    box.appendChild(div);
    var w = Math.max(300, div.clientWidth || 330);
    var u = new uPlot({
      width: w, height: 140, legend: { show: false }, cursor: { show: true },
      scales: { x: { time: true } },
      series: [{}, { stroke: "#1769aa", width: 1.5, points: { show: false } }],
      hooks: { draw: [countDrawn] },
      axes: [{ size: 30 }, { size: 80 }]
    }, [s.t.slice(), s.v.slice()], div);
    charts[s.name] = { u: u, t: s.t.slice(), v: s.v.slice() };
  }
  function extend(points) {
    var cut = serverNow() - rangeSec[range];
    points.forEach(function (p) {
      var c = charts[p.name];
      if (!c) return;
      var t = Date.parse(p.ts) / 1000;
      if (c.t.length && t <= c.t[c.t.length - 1]) return;
      c.t.push(t); c.v.push(p.value);
      while (c.t.length && c.t[0] < cut) { c.t.shift(); c.v.shift(); }
      c.u.setData([c.t, c.v]);
    });
  }
  // For the browser test: how many pixels each chart drew the first
  // time it drew; the body says "charts:drawn" once every chart has.
  function countDrawn(u) {
    if (u.counted) return;
    u.counted = true;
    var c = u.ctx, cv = c.canvas, px = 0;
    var data = c.getImageData(0, 0, cv.width, cv.height).data;
    for (var i = 3; i < data.length; i += 4) if (data[i] !== 0) px++;
    cv.closest(".plot").setAttribute("data-drawn", px);
    checkDrawn();
  }
  function checkDrawn() {
    var n = 0, counted = 0, drawn = 0;
    Object.keys(charts).forEach(function (k) {
      var u = charts[k].u;
      n++;
      if (u.counted) { counted++; if (+u.root.parentNode.getAttribute("data-drawn") > 0) drawn++; }
    });
    if (counted === n) document.body.setAttribute("data-plots", n + ":" + drawn);
  }

  function loadState() {
    return fetch("api/state").then(function (r) {
      if (!r.ok) throw new Error("state: HTTP " + r.status);
      return r.json();
    }).then(function (s) { state = s; stateAt = Date.now(); renderOverview(); renderTiles(); });
  }
  function loadLog() {
    return fetch("api/log").then(function (r) { return r.text(); }).then(function (t) {
      var p = $("log"); p.textContent = t; p.scrollTop = p.scrollHeight;
    });
  }
  $("logbtn").onclick = loadLog;

  function live() {
    var es = new EventSource("api/events");
    es.addEventListener("open", function () { $("live").textContent = "live"; });
    es.addEventListener("error", function () { $("live").textContent = "reconnecting…"; });
    es.addEventListener("state", function (ev) {
      var s = JSON.parse(ev.data);
      state = s; stateAt = Date.now();
      document.body.setAttribute("data-updates", (+document.body.getAttribute("data-updates") || 0) + 1);
      renderOverview(); renderTiles(); extend(s.points || []);
    });
  }

  renderRanges();
  loadState().then(loadPlots).then(function () {
    document.body.setAttribute("data-ready", "1");
    live();
  }).catch(function (e) { recordError(e); });
  loadLog();
  setInterval(function () { if (state) renderTiles(); }, 10000);
})();
