// The landlord signs the pledge on the phone's screen: a canvas drawn with finger or mouse,
// put into the form as a PNG data URL when the form is submitted (loaded before field.js, so
// the value is set before the offline queue reads the form).
(function () {
  var form = document.querySelector("form[data-signature-form]");
  if (!form) { return; }
  var canvas = form.querySelector("[data-signature-pad]");
  var value = form.querySelector("[data-signature-value]");
  var ctx = canvas.getContext("2d");
  var drawn = false, drawing = false;
  function fit() {
    var ratio = window.devicePixelRatio || 1;
    canvas.width = canvas.clientWidth * ratio;
    canvas.height = 180 * ratio;
    ctx.scale(ratio, ratio);
    ctx.lineWidth = 2.5; ctx.lineCap = "round"; ctx.strokeStyle = "#000";
  }
  function point(event) {
    var box = canvas.getBoundingClientRect();
    return {x: event.clientX - box.left, y: event.clientY - box.top};
  }
  canvas.addEventListener("pointerdown", function (event) {
    drawing = true; var p = point(event); ctx.beginPath(); ctx.moveTo(p.x, p.y);
    canvas.setPointerCapture(event.pointerId); event.preventDefault();
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!drawing) { return; }
    var p = point(event); ctx.lineTo(p.x, p.y); ctx.stroke(); drawn = true;
  });
  ["pointerup", "pointercancel"].forEach(function (name) {
    canvas.addEventListener(name, function () { drawing = false; });
  });
  canvas.style.touchAction = "none";
  form.querySelector("[data-signature-clear]").addEventListener("click", function () {
    ctx.clearRect(0, 0, canvas.width, canvas.height); drawn = false; value.value = "";
  });
  // Capture phase: runs before field.js's submit handler reads the form.
  form.addEventListener("submit", function () {
    value.value = drawn ? canvas.toDataURL("image/png") : "";
  }, true);
  fit();
})();
