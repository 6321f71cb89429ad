// Control-task items on a phone: fill every item form with the phone's position; when the
// position cannot be had (permission denied, no signal), ask for the reason instead.
(function () {
  var forms = document.querySelectorAll("form[data-geo-form]");
  var status = document.querySelector("[data-geo-status]");
  if (!forms.length) { return; }
  function askReason(message) {
    if (status) { status.textContent = message + "，请在完成事项时填写原因"; status.className = "alert alert-warning small py-2"; }
    forms.forEach(function (form) {
      form.querySelector("[data-reason-box]").classList.remove("d-none");
      if (!form.hasAttribute("data-geo-optional")) { form.querySelector("[data-reason]").required = true; }
    });
  }
  if (!navigator.geolocation) { askReason("本设备不支持定位"); return; }
  navigator.geolocation.getCurrentPosition(function (pos) {
    var lat = pos.coords.latitude.toFixed(6), lng = pos.coords.longitude.toFixed(6);
    forms.forEach(function (form) {
      form.querySelector("[data-lat]").value = lat;
      form.querySelector("[data-lng]").value = lng;
    });
    if (status) { status.textContent = "已定位：" + lat + ", " + lng; status.className = "alert alert-success small py-2"; status.dataset.located = "1"; }
  }, function () { askReason("未能获取定位"); }, {enableHighAccuracy: true, timeout: 10000, maximumAge: 60000});
})();


// Phone forms that survive a flaky connection (data-offline-form): the form carries an
// idempotency key made when it was opened; a submit that fails for lack of network is kept in
// localStorage and sent again when the connection returns. The server answers a resend with the
// same key exactly as the first time, so nothing lands twice. [data-outbox-panel] lists what
// is still waiting to be sent.
(function () {
  var STORE = "anju.field.outbox";
  function load() {
    try { return JSON.parse(window.localStorage.getItem(STORE) || "[]"); } catch (e) { return []; }
  }
  function save(items) { window.localStorage.setItem(STORE, JSON.stringify(items)); }
  function render() {
    var items = load();
    document.querySelectorAll("[data-outbox-panel]").forEach(function (panel) {
      panel.textContent = "";
      if (!items.length) { panel.className = ""; return; }
      panel.className = "alert alert-warning py-2";
      var head = document.createElement("div");
      head.setAttribute("data-outbox-count", String(items.length));
      head.textContent = "网络不可用，以下 " + items.length + " 项已保存在本机，联网后自动发送：";
      panel.appendChild(head);
      var list = document.createElement("ul");
      list.className = "mb-0 small";
      items.forEach(function (item) {
        var li = document.createElement("li");
        li.setAttribute(item.refused ? "data-outbox-refused" : "data-outbox-item", item.key);
        li.textContent = item.label + "（" + item.saved + "）" +
          (item.refused ? "：发送后被退回，请重新填写" : "");
        if (item.refused) {
          var drop = document.createElement("button");
          drop.type = "button"; drop.className = "btn btn-link btn-sm p-0 ms-2"; drop.textContent = "移除";
          drop.addEventListener("click", function () {
            save(load().filter(function (other) { return other.key !== item.key; })); render();
          });
          li.appendChild(drop);
        }
        list.appendChild(li);
      });
      panel.appendChild(list);
    });
  }
  function post(item) {
    var body = new URLSearchParams();
    item.fields.forEach(function (pair) { body.append(pair[0], pair[1]); });
    return fetch(item.url, {method: "POST", body: body, credentials: "same-origin",
                            headers: {"Idempotency-Key": item.key}});
  }
  var flushing = false;
  function flush() {
    if (flushing) { return; }
    var items = load().filter(function (other) { return !other.refused; });
    if (!items.length) { render(); return; }
    flushing = true;
    var item = items[0];
    post(item).then(function (resp) {
      // Stored: no longer waiting. Refused (wrong document number, expired page…): kept and
      // shown as refused, so the officer fills it in again instead of losing it silently.
      var rest = load();
      if (resp.ok) {
        rest = rest.filter(function (other) { return other.key !== item.key; });
      } else {
        rest.forEach(function (other) { if (other.key === item.key) { other.refused = true; } });
      }
      save(rest);
      flushing = false;
      render();
      flush();
    }, function () { flushing = false; render(); });
  }
  function fieldsOf(form) {
    var pairs = [];
    new FormData(form).forEach(function (value, name) {
      if (typeof value === "string") { pairs.push([name, value]); }
    });
    return pairs;
  }
  document.querySelectorAll("form[data-offline-form]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var keyField = form.querySelector("[data-idempotency-key]");
      var item = {url: form.action, key: keyField.value, fields: fieldsOf(form),
                  label: form.getAttribute("data-offline-label") || "待发送的记录",
                  saved: new Date().toLocaleString("zh-CN")};
      var button = form.querySelector("button[type=submit]");
      if (button) { button.disabled = true; }
      post(item).then(function (resp) {
        if (resp.ok && resp.redirected) { window.location.assign(resp.url); return; }
        // A refusal (wrong document number…): show the server's page by a plain resend.
        form.submit();
      }, function () {
        var items = load().filter(function (other) { return other.key !== item.key; });
        items.push(item);
        save(items);
        if (button) { button.disabled = false; button.textContent = "已保存在本机，联网后自动发送"; }
        render();
      });
    });
  });
  window.addEventListener("online", flush);
  render();
  if (navigator.onLine !== false) { flush(); }
})();
