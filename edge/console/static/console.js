// The booth console: keyboard-first, live by server-sent events, every figure computed by the edge.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  let lang = localStorage.getItem("parkgate-lang") || "zh-CN";
  let state = null;          // the last state pushed by the edge
  let laneId = null;         // the lane on screen
  let source = null;         // the EventSource
  let showingReport = null;  // the report shown after closing (stays until "next shift")
  let closing = false;       // the operator is on the close screen
  let dialogSubmit = null;   // what Enter does in the open dialog
  let dialogKeys = null;     // extra keys while the dialog is open (search results)
  let lastPayment = null;    // the last payment taken here, for its receipt

  const t = (key) => (I18N[lang] && I18N[lang][key]) || I18N["zh-CN"][key] || key;
  const fmt = (minor) => (minor < 0 ? "-" : "") + Math.floor(Math.abs(minor) / 100) + "." +
    String(Math.abs(minor) % 100).padStart(2, "0");
  const parseMinor = (text) => {
    const m = /^\s*(\d{1,7})(?:\.(\d{1,2}))?\s*$/.exec(text || "");
    return m ? parseInt(m[1], 10) * 100 + parseInt((m[2] || "").padEnd(2, "0"), 10) : null;
  };
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const child of children) node.append(child);
    return node;
  };
  const errText = (err) => (I18N[lang]["err." + err.code] ? t("err." + err.code) + " — " : "") +
    (err.message || err.code);

  // ------------------------------------------------------------------------------------------------ the API

  async function api(method, path, payload) {
    const options = { method, credentials: "same-origin", headers: {} };
    if (payload !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(payload);
    }
    let response;
    try {
      response = await fetch("/console/api/" + path, options);
    } catch (e) {
      throw { code: "network", message: String(e) };
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const err = data.error || { code: "http." + response.status, message: response.statusText };
      if (err.code === "auth.required") showSignIn();
      throw err;
    }
    return data;
  }

  function toast(text, bad = false) {
    const box = $("toast");
    box.textContent = text;
    box.className = bad ? "bad" : "";
    box.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { box.hidden = true; }, bad ? 6000 : 3500);
  }

  // ---------------------------------------------------------------------------------------------- languages

  function applyLanguage() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
    $("lang").textContent = lang === "zh-CN" ? "English (G)" : "中文 (G)";
    renderWho();
    if (state) render();
  }
  function renderWho() {
    const who = $("who");
    if (who.dataset.name) who.textContent = `${who.dataset.name} · ${t("role_" + who.dataset.role)}`;
  }
  function toggleLanguage() {
    lang = lang === "zh-CN" ? "en" : "zh-CN";
    localStorage.setItem("parkgate-lang", lang);
    applyLanguage();
  }

  // ------------------------------------------------------------------------------------------------- views

  function show(view) {
    for (const id of ["sign-in-view", "open-view", "desk-view", "close-view"]) $(id).hidden = id !== view;
  }

  function showSignIn() {
    if (source) { source.close(); source = null; }
    state = null;
    $("who").textContent = "";
    delete $("who").dataset.name;
    $("sign-out").hidden = true;
    show("sign-in-view");
    $("sign-in-operator").focus();
  }

  function connect() {
    if (source) source.close();
    source = new EventSource("/console/api/events");
    source.addEventListener("state", (event) => {
      state = JSON.parse(event.data);
      render();
    });
    source.onerror = () => { api("GET", "me").catch(() => {}); };
  }

  function chooseView() {
    const shift = state.shift;
    if (showingReport) return "close-view";
    if (shift.state === "closing" || (closing && shift.state === "open")) return "close-view";
    if (shift.state === "open") return "desk-view";
    return "open-view";
  }

  function render() {
    $("car-park").textContent = state.car_park;
    $("booth-id").textContent = state.shift.booth;
    $("clock").textContent = state.now;
    $("shift-badge").textContent = t("shift_" + state.shift.state) +
      (state.shift.shift ? " · " + state.shift.shift.operator : "");
    $("shift-badge").className = "badge " + state.shift.state;
    const alerts = state.security_alerts || [];
    const last = alerts[alerts.length - 1];
    $("security-alert").hidden = !last;
    if (last) {
      $("security-alert").textContent = t("security_alert").replace("{source}", last.source) + " · " + last.at_local;
    }
    renderAlerts();
    const view = chooseView();
    const wasHidden = $(view).hidden;
    show(view);
    if (view === "open-view") renderOpen(wasHidden);
    if (view === "desk-view") renderDesk();
    if (view === "close-view") renderClose(wasHidden);
  }

  // ------------------------------------------------------------------------------------------------ alerts

  const openAlerts = () => (state.lane_alerts || []).filter((a) => !a.acknowledged_by).reverse();

  function alertText(a) {
    const d = a.details || {};
    if (a.kind === "stopped_card" && d.card) {
      return t("stopped_card_alert").replace("{card}", d.card).replace("{lane}", a.lane)
        .replace("{status}", t("card_" + d.card_status)).replace("{holder}", d.holder);
    }
    return (I18N[lang]["al_" + a.kind] ? t("al_" + a.kind) : a.kind) + (a.lane && !a.message.startsWith(a.lane) ? " · " + a.lane : "") +
      " — " + a.message;
  }

  function renderAlerts() {
    const open = openAlerts();
    $("lane-alert").hidden = !open.length;
    $("lane-alert").textContent = t("alerts_waiting").replace("{n}", open.length);
    $("alerts").hidden = !open.length;
    $("alert-list").replaceChildren(...open.map((a, i) => {
      const button = el("button", { type: "button", class: "ack", id: "ack-" + a.id },
        t("acknowledge") + (i === 0 ? " (X)" : ""));
      button.addEventListener("click", () => acknowledgeAlert(a));
      return el("li", { class: "alert-item " + a.kind, "data-alert": a.id, "data-kind": a.kind },
        el("span", { class: "when", text: a.at_local }), el("span", { class: "what", text: alertText(a) }), button);
    }));
  }

  async function acknowledgeAlert(a) {
    if (!a) return;
    try {
      await api("POST", `alerts/${encodeURIComponent(a.id)}/acknowledge`, {});
      toast(t("acknowledged_ok"));
    } catch (err) { toast(errText(err), true); }
  }

  function faultDialog() {
    const lane = currentLane();
    const devices = [["", t("fault_lane_itself")], ...lane.devices.map((d) => [d.device,
      `${t("dev_" + d.kind)} ${d.device} (${t(d.health)})`])];
    openDialog(t("act_fault") + " · " + lane.name, [field("device", t("fault_device"), { options: devices }),
      field("note", t("fault_note"), { multiline: true })], async () => {
      await api("POST", `lanes/${lane.id}/report-fault`, { device: value("device"), note: value("note") });
      toast(t("fault_ok"));
    });
  }

  function couponDialog() {
    const lane = currentLane();
    openDialog(t("act_coupon") + " · " + lane.name, [field("coupon", t("coupon_code")),
      field("reason", t("coupon_reason"))], async () => {
      await api("POST", `lanes/${lane.id}/coupon`, { coupon: value("coupon"), reason: value("reason") });
      toast(t("coupon_ok"));
    });
  }

  // ----------------------------------------------------------------------------------------- denominations

  function denomInputs(box, totalId, prefix) {
    if (box.childElementCount) return;
    for (const d of state.shift.denominations) {
      const input = el("input", { type: "number", min: "0", value: "0", id: `${prefix}-${d.minor}`,
        "data-denom": String(d.minor) });
      input.addEventListener("input", () => { $(totalId).textContent = fmt(countTotal(box)); });
      box.append(el("label", { class: "denom" }, el("span", { text: d.text }), input));
    }
  }
  const countTotal = (box) => [...box.querySelectorAll("input")].reduce(
    (sum, i) => sum + parseInt(i.dataset.denom, 10) * (parseInt(i.value, 10) || 0), 0);
  const countsOf = (box) => Object.fromEntries([...box.querySelectorAll("input")].map(
    (i) => [i.dataset.denom, i.value === "" ? 0 : Number(i.value)]));

  // -------------------------------------------------------------------------------------------- shift open

  function renderOpen(first) {
    denomInputs($("open-denoms"), "open-total", "float");
    const handover = state.shift.previous_handover;
    $("handover-box").hidden = !handover;
    if (handover) {
      $("handover-note").textContent = handover.note || "—";
      $("handover-from").textContent = `${handover.operator} · ${handover.at}`;
    }
    if (first) $("open-denoms").querySelector("input").focus();
  }

  $("open-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", "shift/open", { float: countsOf($("open-denoms")), cards_stock: $("open-cards").value,
        acknowledge: $("open-ack").checked });
      toast(t("shift_open"));
    } catch (err) { toast(errText(err), true); }
  });

  // ------------------------------------------------------------------------------------------------- desk

  const KEYS = [
    ["c", "F1", "act_cash", () => payDialog("cash")], ["e", "F2", "act_epay", () => payDialog("epay")],
    ["b", "", "act_card", () => payDialog("bank_card")], ["f", "F3", "act_free", () => waiveDialog("free")],
    ["s", "F4", "act_special", () => waiveDialog("special")], ["l", "F6", "act_lost", lostCard],
    ["q", "F7", "act_search", searchDialog], ["m", "F8", "act_manual", manualDialog],
    ["r", "F9", "act_reject", rejectDialog], ["a", "", "act_apb", apbDialog], ["d", "F10", "act_drop", dropDialog],
    ["v", "", "act_reverse", reverseDialog], ["p", "", "act_receipt", printReceipt],
    ["o", "", "act_coupon", couponDialog], ["t", "", "act_fault", faultDialog],
    ["x", "", "act_ack", () => acknowledgeAlert(openAlerts()[0])],
    ["k", "", "act_close", startClose],
    ["g", "", "act_lang", toggleLanguage],
  ];

  function renderDesk() {
    const lanes = state.lanes;
    if (!lanes.some((l) => l.id === laneId)) laneId = (lanes.find((l) => l.staffed) || lanes[0]).id;
    const tabs = $("lane-tabs");
    tabs.replaceChildren(...lanes.map((lane, i) => {
      const tab = el("button", { type: "button", class: "tab" + (lane.id === laneId ? " active" : "") +
        (lane.phase === "waiting" ? " calling" : ""), id: "tab-" + lane.id },
      `${i + 1} ${t(lane.direction)} ${lane.name}`);
      tab.addEventListener("click", () => { laneId = lane.id; render(); });
      return tab;
    }));
    const lane = lanes.find((l) => l.id === laneId);
    renderLane(lane);
    renderKeys();
    renderTotals();
  }

  function chip(label, value, level) {
    return el("span", { class: "chip " + (level || "") }, el("small", { text: label }), " " + value);
  }

  function renderLane(lane) {
    const status = [chip("", t("phase_" + lane.phase), lane.phase === "waiting" ? "warn" : ""),
      chip(t("barrier"), t(lane.barrier), lane.barrier === "fault" ? "bad" : lane.barrier === "open" ? "warn" : ""),
      chip(t("arming"), t(lane.arming ? "occupied" : "clear"), lane.arming ? "warn" : ""),
      chip(t("safety"), lane.safety_faulted ? t("fault") : t(lane.safety ? "occupied" : "clear"),
        lane.safety_faulted ? "bad" : lane.safety ? "warn" : "")];
    for (const d of lane.devices) {
      const level = d.health === "online" ? "ok" : d.health === "degraded" ? "warn" : "bad";
      const device = chip(t("dev_" + d.kind) + " " + d.device, t(d.health), level);
      device.id = "dev-" + d.device;
      device.title = d.reason || "";
      status.push(device);
    }
    if (lane.out_of_service) status.push(chip("", t("out_of_service") + " " + lane.out_of_service, "bad"));
    $("lane-status").replaceChildren(...status);
    const v = lane.vehicle;
    $("plate").textContent = v && v.plate ? v.plate : t("no_vehicle");
    $("plate").className = "plate" + (v && v.plate ? "" : " empty");
    $("confidence").textContent = v && v.confidence ? Math.round(v.confidence * 100) + "%" : "—";
    $("vehicle-class").textContent = v && v.vehicle_class ? t("cls_" + v.vehicle_class) : "—";
    $("entry-time").textContent = (v && v.entry_at) || "—";
    $("exit-time").textContent = (v && v.exit_at) || "—";
    $("identity").textContent = v && v.identity ? t("id_" + v.identity) : "—";
    if (v && v.days_left !== null && v.days_left !== undefined) { // a pass holder: remind them to renew (7.7)
      $("identity").textContent += " · " + t("days_left").replace("{n}", v.days_left) +
        (v.days_left <= 7 ? " · " + t("remind_renewal") : "");
    }
    $("identity").classList.toggle("warn", Boolean(v && v.days_left !== null && v.days_left <= 7));
    $("identity").title = (v && v.reason) || "";
    for (const [id, url] of [["entry-image", v && v.entry_image], ["exit-image", v && v.exit_image]]) {
      const img = $(id);
      if (url) { if (img.getAttribute("src") !== url) img.src = url; img.hidden = false; }
      else { img.removeAttribute("src"); img.hidden = true; }
    }
    const due = lane.due;
    $("due-amount").textContent = due ? "¥ " + due.text : "—";
    $("due-flags").textContent = due && due.lost_card ? t("lost_card_flag") : "";
    $("due-lines").replaceChildren(...(due ? due.lines : []).map(
      (line) => el("tr", {}, el("td", { text: lineLabel(line) }), el("td", { class: "num", text: line.text }))));
    $("history-list").replaceChildren(...lane.history.map((h) => el("li", { class: h.kind },
      el("span", { text: h.at }), el("span", { class: "kind", text: t("h_" + h.kind) }),
      el("span", { text: h.kind === "abnormal" ? t("ab_" + h.text) : h.text }))));
  }

  function lineLabel(line) {
    const known = line.kind && I18N[lang]["line_" + line.kind];
    return known && line.label.startsWith(line.kind) ? t("line_" + line.kind) + line.label.slice(line.kind.length)
      : line.label;
  }

  function renderKeys() {
    $("keys").replaceChildren(...KEYS.map(([key, fkey, label, run]) => {
      const button = el("button", { type: "button", class: "key", id: "key-" + key },
        el("kbd", { text: key.toUpperCase() + (fkey ? " " + fkey : "") }), " " + t(label));
      button.addEventListener("click", run);
      return button;
    }));
  }

  function renderTotals() {
    const totals = state.shift.totals;
    if (!totals) { $("totals").replaceChildren(); return; }
    const rows = [["t_opened", totals.opened_at], ["t_float", totals.float.text],
      ["t_expected", totals.expected_cash.text], ["t_takings", totals.takings.text],
      ...["cash", "epay", "bank_card"].map((m) => ["t_" + m, `${totals.by_method[m].count} · ${totals.by_method[m].text}`]),
      ["t_drops", `${totals.drops.text} (${totals.bags.join(", ") || "—"})`], ["t_vehicles", totals.vehicles],
      ["t_waivers", totals.waivers], ["t_manual", totals.manual_opens], ["t_abnormal", totals.abnormal_events],
      ["t_cycles", totals.barrier_cycles]];
    $("totals").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: t(k) }),
      el("dd", { text: String(v), id: "total-" + k })]));
  }

  const currentLane = () => state.lanes.find((l) => l.id === laneId);

  // ---------------------------------------------------------------------------------------------- dialogs

  function field(name, label, attrs = {}) {
    const input = attrs.options
      ? el("select", { name, id: "f-" + name }, ...attrs.options.map(([v, text]) => el("option", { value: v, text })))
      : el(attrs.multiline ? "textarea" : "input", { name, id: "f-" + name, type: attrs.type || "text",
        value: attrs.value || "" });
    if (attrs.value && attrs.multiline) input.value = attrs.value;
    return el("label", {}, el("span", { text: label }), input);
  }

  function openDialog(title, parts, submit, keys = null) {
    $("dialog-title").textContent = title;
    $("dialog-body").replaceChildren(...parts);
    $("dialog-error").textContent = "";
    dialogSubmit = submit;
    dialogKeys = keys;
    $("dialog").showModal();
    const first = $("dialog-body").querySelector("input, select, textarea");
    if (first) first.focus();
  }
  const value = (name) => ($("f-" + name) ? $("f-" + name).value.trim() : "");

  $("dialog-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!dialogSubmit) return;
    $("dialog-ok").disabled = true;
    try {
      const done = await dialogSubmit();
      if (done !== false) $("dialog").close();
    } catch (err) {
      $("dialog-error").textContent = errText(err);
    } finally {
      $("dialog-ok").disabled = false;
    }
  });
  $("dialog-cancel").addEventListener("click", () => $("dialog").close());

  function payDialog(method) {
    const lane = currentLane();
    const due = lane.due;
    const parts = [el("p", { class: "big", text: `${t("amount_due")} ¥ ${due ? due.text : "—"}` })];
    if (method === "cash") {
      parts.push(field("tendered", t("tendered"), { type: "text" }));
      parts.push(el("p", { class: "big", id: "change-line" }, t("change") + " ¥ 0.00"));
    } else {
      parts.push(field("reference", t("reference")));
    }
    openDialog(t(method === "cash" ? "act_cash" : method === "epay" ? "act_epay" : "act_card"), parts, async () => {
      const payload = { method };
      if (method === "cash") payload.tendered = value("tendered"); else payload.reference = value("reference");
      const paid = await api("POST", `lanes/${lane.id}/pay`, payload);
      lastPayment = paid.payment;
      toast(`${t("paid_ok")} ¥ ${fmt(paid.change)} · ${paid.receipt_no}`);
    });
    if (method === "cash") {
      $("f-tendered").addEventListener("input", () => {
        const tendered = value("tendered") === "" ? (due ? due.minor : 0) : parseMinor(value("tendered"));
        $("change-line").textContent = t("change") + " ¥ " +
          (tendered === null || !due ? "—" : fmt(Math.max(0, tendered - due.minor)));
      });
    }
  }

  const FREE = ["police", "military", "fire", "ambulance", "engineering_rescue", "government", "staff"];
  const SPECIAL = ["hearse", "vip", "contractor", "other"];
  function waiveDialog(kind) {
    const lane = currentLane();
    const categories = (kind === "free" ? FREE : SPECIAL).map((c) => [c, t("cat_" + c)]);
    openDialog(t(kind === "free" ? "act_free" : "act_special"), [
      field("category", t("category"), { options: categories }),
      field("reason", t("reason"), { value: kind === "free" ? t("cat_" + FREE[0]) : "" }),
      field("note", t("note")),
    ], async () => {
      await api("POST", `lanes/${lane.id}/waive`, { list_kind: kind, category: value("category"),
        reason: value("reason"), note: value("note") });
      toast(t("waived_ok"));
    });
    if (kind === "free") {
      $("f-category").addEventListener("change", () => { $("f-reason").value = t("cat_" + value("category")); });
    }
  }

  async function lostCard() {
    try {
      await api("POST", `lanes/${laneId}/lost-card`, {});
      toast(t("lost_ok"));
    } catch (err) { toast(errText(err), true); }
  }

  function manualDialog() {
    const lane = currentLane();
    openDialog(t("act_manual"), [field("reason", t("reason"))], async () => {
      await api("POST", `lanes/${lane.id}/manual-open`, { reason: value("reason") });
      toast(t("opened_ok"));
    });
  }

  function rejectDialog() {
    const lane = currentLane();
    openDialog(t("act_reject"), [field("reason", t("reason"))], async () => {
      await api("POST", `lanes/${lane.id}/reject`, { reason: value("reason") });
      toast(t("rejected_ok"));
    });
  }

  function reverseDialog() {
    const lane = currentLane();
    if (!lane.pending_payment) { toast(t("err.reversal.nothing"), true); return; }
    openDialog(t("act_reverse"), [field("reason", t("reason"))], async () => {
      await api("POST", "shift/reverse", { payment: lane.pending_payment, reason: value("reason") });
      toast(t("reversed_ok"));
    });
  }

  function supervisorFields() {
    return [field("supervisor", t("supervisor")), field("pin", t("supervisor_pin"), { type: "password" }),
      field("reason", t("reason"))];
  }

  function apbDialog() {
    const lane = currentLane();
    openDialog(t("act_apb"), supervisorFields(), async () => {
      await api("POST", `lanes/${lane.id}/reset-anti-passback`, { supervisor: value("supervisor"),
        pin: value("pin"), reason: value("reason") });
      toast(t("apb_ok"));
    });
  }

  function searchDialog() {
    const lane = currentLane();
    const results = el("ol", { id: "search-results", class: "results" });
    let found = [], chosen = 0, searched = "";
    const paint = () => results.replaceChildren(...(found.length ? found.map((s, i) => el("li",
      { class: i === chosen ? "chosen" : "" },
      s.entry_image ? el("img", { src: s.entry_image, alt: "" }) : el("span", { class: "noimg" }),
      el("b", { text: s.plate || "—" }), ` ${s.entry_at} · ${s.entry_lane}`)) : [el("li", { text: t("no_results") })]));
    openDialog(t("act_search"), [field("plate", t("plate_part")),
      field("since", t("since"), { type: "datetime-local" }), field("until", t("until"), { type: "datetime-local" }),
      el("p", { class: "hint", text: t("search_hint") }), results], async () => {
      const query = `${value("plate")}|${value("since")}|${value("until")}`;
      if (query !== searched || !found.length) {
        const params = new URLSearchParams({ plate: value("plate"), since: value("since"), until: value("until") });
        found = (await api("GET", "search?" + params)).sessions;
        chosen = 0;
        searched = query;
        paint();
        return false;
      }
      await api("POST", `lanes/${lane.id}/attach`, { session: found[chosen].session });
      toast(t("attached_ok"));
      return true;
    }, (event) => {
      if (!found.length || (event.key !== "ArrowDown" && event.key !== "ArrowUp")) return false;
      chosen = (chosen + (event.key === "ArrowDown" ? 1 : found.length - 1)) % found.length;
      paint();
      return true;
    });
  }

  function dropDialog() {
    const grid = el("div", { class: "denoms small" });
    openDialog(t("act_drop"), [field("bag", t("bag")), field("witness", t("witness")), grid,
      el("p", { class: "total-line" }, t("counted_total") + " ", el("b", { id: "drop-total", text: "0.00" }))],
    async () => {
      await api("POST", "shift/drop", { bag: value("bag"), witness: value("witness"), counts: countsOf(grid) });
      toast(t("dropped_ok"));
    });
    denomInputs(grid, "drop-total", "drop");
  }

  // ------------------------------------------------------------------------------------------- shift close

  function startClose() {
    closing = true;
    render();
  }

  function renderClose(first) {
    denomInputs($("close-denoms"), "close-total", "count");
    const totals = state.shift.totals;
    $("close-expected").textContent = totals ? totals.expected_cash.text : "—";
    closeDifference();
    $("close-form").hidden = !!showingReport;
    $("report").hidden = !showingReport;
    $("report-details").hidden = !showingReport;
    if (showingReport) renderReport(showingReport);
    else if (first) $("close-denoms").querySelector("input").focus();
  }

  function closeDifference() {
    const totals = state && state.shift.totals;
    const diff = totals ? countTotal($("close-denoms")) - totals.expected_cash.minor : null;
    $("close-diff").textContent = diff === null ? "—" :
      `${fmt(diff)} ${diff < 0 ? t("r_short") : diff > 0 ? t("r_over") : t("r_balanced")}`;
    $("close-diff").className = diff ? "bad" : "";
  }
  $("close-denoms").addEventListener("input", closeDifference);

  $("close-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const answer = await api("POST", "shift/close", { counts: countsOf($("close-denoms")),
        cards_on_hand: $("close-cards-hand").value, cards_collected: $("close-cards-collected").value,
        note: $("close-note").value });
      showingReport = answer.report;
      closing = false;
      render();
    } catch (err) { toast(errText(err), true); }
  });
  $("close-cancel").addEventListener("click", () => { closing = false; render(); });

  function renderReport(r) {
    const diff = r.cash.difference.minor;
    const verdict = diff < 0 ? t("r_short") : diff > 0 ? t("r_over") : t("r_balanced");
    const cards = r.cards;
    const rows = [
      ["r_vehicles", r.vehicles_total], ["r_takings", r.takings.text],
      ...["cash", "epay", "bank_card"].map((m) => ["t_" + m, `${r.by_method[m].count} · ${r.by_method[m].text}`]),
      ["r_waived", r.waived.text],
      ["r_manual", r.manual_opens.length], ["r_abnormal", r.abnormal_events],
      ["r_cycles", `${r.barrier_cycles} / ${r.transactions}`], ["r_float", r.cash.float.text],
      ["r_tendered", r.cash.tendered.text], ["r_change", r.cash.change.text], ["r_taken", r.cash.taken.text],
      ["r_drops", r.cash.drops.text], ["r_expected", r.cash.expected.text], ["r_counted", r.cash.counted.text],
      ["r_difference", `${r.cash.difference.text} ${verdict}`],
      ["r_cards", `${cards.expected_on_hand} / ${cards.counted_on_hand}`], ["r_cards_diff", cards.difference],
      ["r_handed_in", r.cash.handed_in.text], ["r_note", r.handover_note || "—"],
    ];
    $("report-table").replaceChildren(...rows.map(([k, v]) => el("tr", { id: "report-" + k },
      el("th", { text: t(k) }), el("td", { class: k === "r_difference" && diff ? "num bad" : "num", text: String(v) }))));
    $("slip-download").href = r.slip_url;
    renderDetails(r);
  }

  function table(rows) {
    return el("table", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c, i) => el("td",
      { class: i === cells.length - 1 ? "num" : "", text: String(c) })))));
  }

  function renderDetails(r) {
    const byCategory = (counts) => Object.entries(counts || {}).flatMap(([kind, categories]) =>
      Object.entries(categories).map(([category, n]) => [t("id_" + kind), t("cat_" + category), "× " + n]));
    const waivers = byCategory(r.waivers);
    const parts = [
      el("h3", { text: t("d_counted") }),
      table(r.cash.counted_lines.filter((l) => l.count).map((l) => [l.denomination + " × " + l.count, l.text])),
      el("h3", { text: t("d_bags") }), table(r.cash.bags.map((b) => [b.bag, b.text])),
      el("h3", { text: t("d_waivers") }), table(waivers),
      el("h3", { text: t("d_free_passes") }), table(byCategory(r.free_passes)),
      el("h3", { text: t("d_manual") }), table(r.manual_opens.map((m) => [m.at, m.plate || "—", m.reason])),
      el("h3", { text: t("d_abnormal") }), table(Object.entries(r.abnormal_by_kind).map(([k, n]) => [t("ab_" + k), n])),
    ];
    $("report-details").replaceChildren(...parts);
    $("report-details").hidden = false;
  }

  function printPdf(url) {
    const frame = $("print-frame");
    frame.onload = () => { try { frame.contentWindow.print(); } catch (e) { /* the viewer prints itself */ } };
    frame.src = url;
  }
  $("slip-print").addEventListener("click", printSlip);
  function printSlip() { if (showingReport) printPdf(showingReport.slip_url); }
  function printReceipt() {
    if (!lastPayment) return;
    printPdf(`/console/api/payments/${lastPayment}/receipt.pdf`);
    // the lane's ESC/POS receipt printer too, when the site file has one
    api("POST", `payments/${lastPayment}/print`).catch((err) => {
      if (err.code !== "printer.none") toast(err.message || err.code, true);
    });
  }
  $("next-shift").addEventListener("click", nextShift);
  function nextShift() { showingReport = null; render(); }
  $("reopen").addEventListener("click", () => {
    openDialog(t("reopen_report"), supervisorFields(), async () => {
      await api("POST", "shift/reopen", { supervisor: value("supervisor"), pin: value("pin"), reason: value("reason") });
      showingReport = null;
      closing = true;
    });
  });
  $("btn-drop").addEventListener("click", dropDialog);
  $("btn-close").addEventListener("click", startClose);

  // --------------------------------------------------------------------------------------------- keyboard

  document.addEventListener("keydown", (event) => {
    if ($("dialog").open) {
      if (dialogKeys && dialogKeys(event)) {
        event.preventDefault();
      } else if (event.key === "Enter" && !["TEXTAREA", "BUTTON"].includes(event.target.tagName)) {
        event.preventDefault(); // Enter confirms from any field, a list included; Esc is the dialog's own cancel
        $("dialog-form").requestSubmit();
      }
      return;
    }
    if (!state) return;
    if (event.key === "g" && event.target.tagName !== "INPUT" && event.target.tagName !== "TEXTAREA") {
      toggleLanguage();
      return;
    }
    const view = chooseView();
    if (view === "close-view") {
      if (event.key === "Escape" && !showingReport) { closing = false; render(); }
      if (showingReport && event.key.toLowerCase() === "p") printSlip();
      if (showingReport && event.key.toLowerCase() === "n") nextShift();
      return;
    }
    if (view !== "desk-view" || event.ctrlKey || event.altKey || event.metaKey) return;
    if (/^[1-9]$/.test(event.key) && state.lanes[Number(event.key) - 1]) {
      laneId = state.lanes[Number(event.key) - 1].id;
      render();
      return;
    }
    if (event.key === "Tab") {
      const i = state.lanes.findIndex((l) => l.id === laneId);
      laneId = state.lanes[(i + (event.shiftKey ? state.lanes.length - 1 : 1)) % state.lanes.length].id;
      event.preventDefault();
      render();
      return;
    }
    const hit = KEYS.find(([key, fkey]) => event.key.toLowerCase() === key || (fkey && event.key === fkey));
    if (hit) {
      event.preventDefault();
      hit[3]();
    }
  });

  // ---------------------------------------------------------------------------------------- sign-in, start

  $("sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const who = await api("POST", "sign-in", { operator: $("sign-in-operator").value, pin: $("sign-in-pin").value });
      $("sign-in-pin").value = "";
      start(who);
    } catch (err) { toast(errText(err), true); $("sign-in-pin").select(); }
  });
  $("sign-out").addEventListener("click", async () => { await api("POST", "sign-out", {}).catch(() => {}); showSignIn(); });
  $("lang").addEventListener("click", toggleLanguage);

  function start(who) {
    $("who").dataset.role = who.role;
    $("who").dataset.name = `${who.name} (${who.operator})`;
    renderWho();
    $("sign-out").hidden = false;
    connect();
  }

  applyLanguage();
  api("GET", "me").then(start).catch(() => showSignIn());
})();
