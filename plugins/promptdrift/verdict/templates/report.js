"use strict";
(function () {
  var table = document.getElementById("cases");
  if (!table) { document.body.dataset.ready = "1"; return; }
  var page = JSON.parse(document.getElementById("promptdrift-cases").textContent);
  var data = page.cases, strings = page.strings;
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  rows.forEach(function (row, i) {  // the data's order is the page's first order
    row._i = i;
    row._suite = row.cells[0].textContent;
    row._variant = row.cells[2].textContent;
  });
  var filters = {};
  document.querySelectorAll("[data-filter]").forEach(function (el) { filters[el.dataset.filter] = el; });
  var shown = document.querySelector("[data-visible-count]");
  var attention = { regression: 1, drift: 1, fail: 1 };
  var haystacks = null;

  function text(tag, value, cls) {
    var el = document.createElement(tag);
    el.textContent = value;
    if (cls) el.className = cls;
    return el;
  }
  function sides(d) {  // the answer after and before: kept as they are, or as the word diff between them
    if (!d.d) return { after: d.a, before: d.b };
    var after = "", before = "";
    d.d.forEach(function (run) {
      if (run[0] !== "-") after += run[1];
      if (run[0] !== "+") before += run[1];
    });
    return { after: after, before: before };
  }
  function haystack(row) {
    var both = sides(data[row._i]);
    return (row.dataset.case + "\n" + both.after + "\n" + (both.before || "")).toLowerCase();
  }
  function matches(row, i, query) {
    var want = filters.verdict.value, verdict = row.dataset.verdict;
    if (want === "attention" ? !attention[verdict] : want !== "all" && want !== verdict) return false;
    if (filters.suite && filters.suite.value && row._suite !== filters.suite.value) return false;
    if (filters.variant && filters.variant.value && row._variant !== filters.variant.value) return false;
    if (filters.check && filters.check.value && (" " + (row.dataset.checks || "") + " ").indexOf(" " + filters.check.value + " ") < 0) return false;
    if (query) {
      if (!haystacks) {
        haystacks = [];
        rows.forEach(function (r) { haystacks[r._i] = haystack(r); });
      }
      if (haystacks[i].indexOf(query) < 0) return false;
    }
    return true;
  }
  function apply() {
    closeAll();
    var query = filters.search ? filters.search.value.trim().toLowerCase() : "";
    var count = 0;
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i], ok = matches(row, row._i, query);
      row.hidden = !ok;
      if (ok) count++;
    }
    shown.textContent = String(count);
  }
  function closeAll() {
    body.querySelectorAll("tr.detail").forEach(function (tr) { tr.remove(); });
    body.querySelectorAll("button.open[aria-expanded=true]").forEach(function (b) { b.setAttribute("aria-expanded", "false"); });
  }
  function answer(which, d) {
    var pre = document.createElement("pre");
    pre.dataset.answer = which;
    if (!d.d) {
      var kept = which === "before" ? d.b : d.a;
      if (kept === undefined) pre.appendChild(text("em", "no earlier recording"));
      else pre.textContent = kept;
      return pre;
    }
    d.d.forEach(function (run) {
      var op = run[0];
      if (op === "=") pre.appendChild(document.createTextNode(run[1]));
      else if (op === "-" && which === "before") pre.appendChild(text("del", run[1]));
      else if (op === "+" && which === "after") pre.appendChild(text("ins", run[1]));
    });
    return pre;
  }
  function detail(row) {
    var d = data[row._i];
    var tr = document.createElement("tr"), td = document.createElement("td");
    tr.className = "detail";
    tr.dataset.detailFor = row.dataset.case;
    td.colSpan = row.cells.length;
    if (d.m && d.m.length) {
      td.appendChild(text("h4", "Prompt"));
      d.m.forEach(function (m) {
        var div = document.createElement("div");
        div.className = "msg";
        div.appendChild(text("b", m[0]));
        div.appendChild(text("pre", strings[m[1]]));
        td.appendChild(div);
      });
    }
    td.appendChild(text("h4", d.d ? "Answer before and after (word diff)" : "Answer"));
    var both = document.createElement("div");
    both.className = "answers";
    ["before", "after"].forEach(function (which) {
      var col = document.createElement("div");
      col.appendChild(text("h5", which));
      col.appendChild(answer(which, d));
      both.appendChild(col);
    });
    td.appendChild(both);
    if (d.c && d.c.length) {
      var checks = document.createElement("table");
      checks.className = "checks";
      var head = checks.insertRow();
      ["check", "before", "after", "note"].forEach(function (h) { head.appendChild(text("th", h)); });
      d.c.forEach(function (c) {
        var tr2 = checks.insertRow();
        tr2.dataset.check = c[0];
        if (c[4]) tr2.dataset.verdict = c[4];
        for (var k = 0; k < 4; k++) tr2.insertCell().textContent = c[k];
      });
      td.appendChild(checks);
    }
    if (d.e) {
      var drifted = row.dataset.verdict === "drift";
      td.appendChild(text("h4", drifted ? "Prompt drift: the request against its recording" : "Error"));
      td.appendChild(text("pre", d.e, "error"));
    }
    if (d.u) td.appendChild(text("p", d.u));
    var where = document.createElement("p");
    where.appendChild(document.createTextNode("cassette "));
    where.appendChild(text("code", d.k || "-"));
    where.appendChild(document.createTextNode(" · re-record this case: "));
    var command = page.rerecord.replace("{case}", function () { return row.dataset.case; });
    where.appendChild(text("code", command, "rerecord"));
    td.appendChild(where);
    tr.appendChild(td);
    return tr;
  }
  body.addEventListener("click", function (event) {
    var button = event.target.closest("button.open");
    if (!button) return;
    var row = button.closest("tr"), next = row.nextElementSibling;
    if (next && next.classList.contains("detail")) {
      next.remove();
      button.setAttribute("aria-expanded", "false");
      return;
    }
    row.after(detail(row));
    button.setAttribute("aria-expanded", "true");
  });
  table.tHead.addEventListener("click", function (event) {
    var th = event.target.closest("th[data-sort]");
    if (!th) return;
    var column = th.cellIndex, numeric = th.dataset.sort === "number";
    var up = th.getAttribute("aria-sort") !== "ascending";
    table.tHead.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", up ? "ascending" : "descending");
    closeAll();
    function key(row) {
      var cell = row.cells[column];
      if (!numeric) return cell.textContent;
      var v = cell.dataset.v;
      return v === undefined || v === "" ? -Infinity : +v;
    }
    var keyed = rows.map(function (row) { return [key(row), row]; });
    keyed.sort(function (a, b) { return (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0) * (up ? 1 : -1); });
    rows = keyed.map(function (k) { return k[1]; });
    var fragment = document.createDocumentFragment();
    rows.forEach(function (row) { fragment.appendChild(row); });
    body.appendChild(fragment);
  });
  Object.keys(filters).forEach(function (name) {
    filters[name].addEventListener(name === "search" ? "input" : "change", apply);
  });
  if (!rows.some(function (r) { return attention[r.dataset.verdict]; })) filters.verdict.value = "all";
  apply();
  document.body.dataset.ready = "1";
})();
