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
      form.querySelector("[data-reason]").required = true;
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
