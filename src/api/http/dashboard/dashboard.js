// The analysts' dashboard: reads GET /statistics/learning and /statistics/timeliness with the
// analyst's token and draws them as plain SVG. No library, nothing loaded from elsewhere.
//
// The token comes from the URL fragment (#token=<jwt>&from=YYYY-MM-DD&to=YYYY-MM-DD), which is
// removed from the address bar as soon as it is read, or from the form on the page. It is kept
// in this script's memory only and sent only as an Authorization header, never in an address.
//
// Every figure shown is an element with a `data-figure` key (total, late, month:2025-03,
// learning:<dimension>:<value>, timeliness:<measure>:count, timeliness:<measure>:<unit>:<stat>),
// whose text is the figure as shown; the browser test reads them.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const DATE = /^\d{4}-\d{2}-\d{2}$/;
  // The learning dimensions drawn as bars (docs/API.md order); `month` is the chart above them.
  const DIMENSIONS = [
    ["subject_kind", "Subject"],
    ["behaviour", "Behaviour"],
    ["standing", "Complainant's standing"],
    ["channel", "Channel"],
    ["on_behalf_basis", "Made on behalf of someone"],
    ["redirect_destination", "Redirected to"],
    ["outcome", "Outcome"],
    ["learning_theme", "Learning theme"],
    ["handling", "Handling (Schedule 3)"],
    ["allegation_category", "Allegation category (IOPC)"],
    ["allegation_outcome", "Allegation outcome"],
    ["iopc_referred", "Referred to the IOPC"],
    ["review_result", "Review result"],
  ];
  const MEASURES = [
    ["lodged_to_assigned", "assignment"],
    ["lodged_to_first_contact", "first contact"],
    ["lodged_to_resolved", "resolution"],
    ["lodged_to_outcome_notified", "outcome notified"],
  ];
  const UNITS = ["working_days", "calendar_days"];
  const STATS = ["mean", "median", "p90"];
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  const $ = (id) => document.getElementById(id);
  const state = { token: null, from: null, to: null, request: 0 };

  // ---- errors: shown in <pre id="errors"> as well as the console ----------------------------
  function reportError(message) {
    const box = $("errors");
    if (box) {
      box.hidden = false;
      box.textContent += message + "\n";
    }
  }
  window.addEventListener("error", (event) => {
    reportError("Uncaught error: " + event.message);
  });
  window.addEventListener("unhandledrejection", (event) => {
    const reason = event.reason;
    reportError("Unhandled rejection: " + (reason && reason.message ? reason.message : reason));
  });
  document.addEventListener("securitypolicyviolation", (event) => {
    reportError("Refused by the Content-Security-Policy: " + event.violatedDirective + " "
      + event.blockedURI);
  });
  const consoleError = console.error.bind(console);
  console.error = function (...args) {
    reportError(args.map(String).join(" "));
    consoleError(...args);
  };

  // ---- the address: token and range in, the range alone out --------------------------------
  function readFragment() {
    const params = new URLSearchParams(location.hash.replace(/^#/, ""));
    if (params.has("token")) {
      state.token = params.get("token").trim() || null;
    }
    state.from = DATE.test(params.get("from") || "") ? params.get("from") : null;
    state.to = DATE.test(params.get("to") || "") ? params.get("to") : null;
    $("from").value = state.from || "";
    $("to").value = state.to || "";
    writeAddress();
  }

  function rangeQuery() {
    const params = new URLSearchParams();
    if (state.from) params.set("from", state.from);
    if (state.to) params.set("to", state.to);
    return params.toString();
  }

  // The address bar keeps the range (a link one can share) but never the token.
  function writeAddress() {
    const range = rangeQuery();
    history.replaceState(null, "", location.pathname + location.search + (range ? "#" + range : ""));
    $("permalink").href = location.href;
  }

  // ---- calls ---------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function call(path, accept) {
    const response = await fetch(path, {
      headers: { Authorization: "Bearer " + state.token, Accept: accept },
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
    if (!response.ok) {
      let detail = response.statusText;
      try {
        const problem = await response.json();
        detail = problem.detail || problem.title || detail;
      } catch (ignored) {
        // not problem details: the status line says enough
      }
      throw new ApiError(response.status, detail);
    }
    return response;
  }

  async function statistics(name) {
    const query = rangeQuery();
    const response = await call("/statistics/" + name + (query ? "?" + query : ""),
      "application/json");
    return { body: await response.json(), position: response.headers.get("X-Projection-Position") };
  }

  function setStatus(kind, message) {
    const status = $("status");
    status.dataset.state = kind;
    status.textContent = message;
  }

  async function load() {
    const request = ++state.request;
    if (!state.token) {
      $("figures").hidden = true;
      $("token-form").hidden = false;
      setStatus("need-token", "Paste an analyst's token to see the figures.");
      return;
    }
    setStatus("loading", "Loading…");
    $("figures").setAttribute("aria-busy", "true");
    try {
      const [learning, timeliness] = await Promise.all(
        [statistics("learning"), statistics("timeliness")]);
      if (request !== state.request) return; // a newer range was asked for meanwhile
      render(learning.body, timeliness.body);
      $("token-form").hidden = true;
      $("figures").hidden = false;
      $("figures").setAttribute("aria-busy", "false");
      setStatus("ready", "Figures as of event " + learning.position + " of the log.");
    } catch (error) {
      if (request !== state.request) return;
      failed(error);
    }
  }

  // Figures of an earlier request are not left on show under an error.
  function failed(error) {
    $("figures").hidden = true;
    if (!(error instanceof ApiError)) {
      setStatus("error", "The server could not be reached: " + error.message);
    } else if (error.status === 401) {
      state.token = null;
      $("token-form").hidden = false;
      setStatus("need-token", "The token was refused: " + error.message);
    } else if (error.status === 403) {
      $("token-form").hidden = false;
      setStatus("error", "This token may not read statistics: " + error.message);
    } else {
      setStatus("error", "The figures could not be read (" + error.status + "): " + error.message);
    }
  }

  // ---- drawing -------------------------------------------------------------------------------
  function count(value) {
    return Number(value).toLocaleString("en-GB");
  }

  function days(value) {
    if (value === null || value === undefined) return "–";
    return Number(value).toLocaleString("en-GB",
      { minimumFractionDigits: 1, maximumFractionDigits: 2 });
  }

  const NAMES = { iopc: "IOPC", mopac: "MOPAC" };

  function humanise(value) {
    if (NAMES[value]) return NAMES[value];
    const words = String(value).replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  function svg(tag, attributes, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      node.setAttribute(name, String(value));
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function html(tag, attributes, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      node.setAttribute(name, String(value));
    }
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function showFigure(id, value) {
    const output = $(id);
    output.dataset.value = String(value);
    output.dataset.figure = id;
    output.textContent = count(value);
  }

  function render(learning, timeliness) {
    showFigure("total", learning.total);
    showFigure("late", learning.late);
    const range = $("range");
    range.dataset.from = learning.from || "";
    range.dataset.to = learning.to || "";
    range.textContent = describeRange(learning.from, learning.to);
    const query = rangeQuery();
    for (const id of ["csv-learning", "csv-timeliness"]) {
      const link = $(id);
      link.href = link.dataset.path + (query ? "?" + query : "");
    }
    drawMonths(learning.month);
    drawDimensions(learning);
    drawTimeliness(timeliness);
  }

  function describeRange(from, to) {
    if (from && to) return "complaints lodged from " + from + " to " + to;
    if (from) return "complaints lodged from " + from;
    if (to) return "complaints lodged up to " + to;
    return "every complaint lodged";
  }

  // Every month from the first to the last with complaints, the ones between at 0.
  function monthsBetween(counts) {
    const known = Object.keys(counts).sort();
    if (known.length === 0) return [];
    const months = [];
    let [year, month] = known[0].split("-").map(Number);
    const [lastYear, lastMonth] = known[known.length - 1].split("-").map(Number);
    while (year < lastYear || (year === lastYear && month <= lastMonth)) {
      const key = year + "-" + String(month).padStart(2, "0");
      months.push([key, counts[key] || 0]);
      month += 1;
      if (month > 12) {
        month = 1;
        year += 1;
      }
    }
    return months;
  }

  function niceStep(max) {
    const raw = Math.max(max, 1) / 4;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const factor of [1, 2, 5, 10]) {
      if (factor * power >= raw) return Math.max(1, factor * power);
    }
    return 10 * power;
  }

  function drawMonths(counts) {
    const box = $("months");
    box.replaceChildren();
    const months = monthsBetween(counts);
    if (months.length === 0) {
      box.append(html("p", { class: "empty" }, "No complaints were lodged in this range."));
      return;
    }
    const width = 1160, height = 280, left = 48, right = 8, top = 24, bottom = 40;
    const plotWidth = width - left - right, plotHeight = height - top - bottom;
    const max = Math.max(...months.map(([, n]) => n));
    const step = niceStep(max);
    const ceiling = Math.max(step, Math.ceil(max / step) * step);
    const chart = svg("svg", {
      viewBox: "0 0 " + width + " " + height, role: "img", class: "months",
      "aria-label": "Complaints lodged per month",
    });
    const y = (n) => top + plotHeight - (n / ceiling) * plotHeight;
    for (let tick = 0; tick <= ceiling; tick += step) {
      chart.append(svg("line", { class: "grid", x1: left, x2: width - right, y1: y(tick), y2: y(tick) }));
      chart.append(svg("text", { class: "axis", x: left - 6, y: y(tick) + 4, "text-anchor": "end" },
        count(tick)));
    }
    const slot = plotWidth / months.length;
    const labelEvery = Math.ceil(months.length / 24);
    months.forEach(([month, n], index) => {
      const [year, number] = month.split("-");
      const name = MONTHS[Number(number) - 1] + " " + year;
      const group = svg("g", { class: "month", "data-month": month, "data-count": n });
      group.append(svg("title", {}, name + ": " + count(n) + " complaints"));
      const x = left + index * slot;
      const barWidth = Math.max(1, Math.min(slot * 0.7, 90));
      group.append(svg("rect", {
        class: "bar", x: x + (slot - barWidth) / 2, y: y(n), width: barWidth,
        height: Math.max(0, top + plotHeight - y(n)),
      }));
      group.append(svg("text", {
        class: "count", x: x + slot / 2, y: y(n) - 6, "text-anchor": "middle",
        "data-figure": "month:" + month,
      }, count(n)));
      if (index % labelEvery === 0) {
        group.append(svg("text", {
          class: "axis", x: x + slot / 2, y: height - bottom + 18, "text-anchor": "middle",
        }, name));
      }
      chart.append(group);
    });
    chart.append(svg("line", {
      class: "baseline", x1: left, x2: width - right, y1: top + plotHeight, y2: top + plotHeight,
    }));
    box.append(chart);
  }

  function drawDimensions(learning) {
    const box = $("dimensions");
    box.replaceChildren();
    for (const [dimension, title] of DIMENSIONS) {
      const section = html("section", { class: "dimension", "data-dimension": dimension });
      section.append(html("h3", {}, title));
      const rows = Object.entries(learning[dimension] || {})
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
      if (rows.length === 0) {
        section.append(html("p", { class: "empty" }, "None in this range."));
        box.append(section);
        continue;
      }
      const width = 560, row = 24, label = 260, number = 56;
      const barSpace = width - label - number;
      const max = Math.max(...rows.map(([, n]) => n));
      const chart = svg("svg", {
        viewBox: "0 0 " + width + " " + rows.length * row, role: "img",
        "aria-label": title + ": complaints by value",
      });
      rows.forEach(([value, n], index) => {
        const top = index * row;
        const group = svg("g", { class: "value", "data-value": value, "data-count": n });
        group.append(svg("title", {}, humanise(value) + ": " + count(n)));
        group.append(svg("text", { class: "label", x: label - 8, y: top + 16, "text-anchor": "end" },
          humanise(value)));
        group.append(svg("rect", {
          class: "bar", x: label, y: top + 4, height: row - 8,
          width: Math.max(1, (n / max) * barSpace),
        }));
        group.append(svg("text", {
          class: "count", x: label + (n / max) * barSpace + 6, y: top + 16,
          "data-figure": "learning:" + dimension + ":" + value,
        }, count(n)));
        chart.append(group);
      });
      section.append(chart);
      box.append(section);
    }
  }

  function drawTimeliness(timeliness) {
    const body = $("timeliness").querySelector("tbody");
    body.replaceChildren();
    for (const [measure, name] of MEASURES) {
      const figures = timeliness[measure];
      const row = html("tr", { "data-measure": measure });
      row.append(html("th", { scope: "row" }, name));
      row.append(html("td", { "data-figure": "timeliness:" + measure + ":count" },
        count(figures.count)));
      for (const unit of UNITS) {
        for (const stat of STATS) {
          row.append(html("td", {
            "data-figure": "timeliness:" + measure + ":" + unit + ":" + stat,
          }, days(figures[unit][stat])));
        }
      }
      body.append(row);
    }
  }

  // ---- the CSV links: fetched with the token, saved as a file --------------------------------
  async function download(link) {
    try {
      const response = await call(link.getAttribute("href"), "text/csv");
      const address = URL.createObjectURL(await response.blob());
      const save = html("a", { href: address, download: link.dataset.filename });
      document.body.append(save);
      save.click();
      save.remove();
      setTimeout(() => URL.revokeObjectURL(address), 10000);
    } catch (error) {
      failed(error);
    }
  }

  // ---- wiring --------------------------------------------------------------------------------
  function start() {
    readFragment();
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const input = $("token-input");
      state.token = input.value.trim() || null;
      input.value = "";
      load();
    });
    $("range-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const from = $("from").value || null;
      const to = $("to").value || null;
      if (from && to && from > to) {
        setStatus("error", "The first date is after the last.");
        return;
      }
      state.from = from;
      state.to = to;
      writeAddress();
      load();
    });
    $("all-dates").addEventListener("click", () => {
      state.from = state.to = null;
      $("from").value = $("to").value = "";
      writeAddress();
      load();
    });
    for (const id of ["csv-learning", "csv-timeliness"]) {
      $(id).addEventListener("click", (event) => {
        event.preventDefault();
        download(event.currentTarget);
      });
    }
    window.addEventListener("hashchange", () => {
      readFragment();
      load();
    });
    load();
  }

  start();
})();
