/* Password strength estimate while typing (progressive enhancement: the
   server checks the real policy). Labels come from the input's data-labels
   ("weak|fair|good|strong"), so every word stays in the templates. */
(function () {
  "use strict";
  function estimate(value) {
    if (value.length < 12) { return 0; }
    var classes = 0;
    [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].forEach(function (re) {
      if (re.test(value)) { classes += 1; }
    });
    var distinct = {};
    for (var i = 0; i < value.length; i += 1) { distinct[value[i]] = true; }
    var unique = Object.keys(distinct).length;
    if (unique < 5) { return 0; }
    // rough entropy: length x log2(alphabet), capped by repetition
    var alphabet = [26, 52, 62, 94][Math.max(classes, 1) - 1];
    var bits = Math.min(value.length, unique * 2) * Math.log(alphabet) / Math.LN2;
    if (/\s/.test(value) && value.trim().split(/\s+/).length >= 4) { bits += 20; }
    if (bits >= 90) { return 4; }
    if (bits >= 70) { return 3; }
    if (bits >= 50) { return 2; }
    return 1;
  }
  function attach(input) {
    var box = document.getElementById(input.getAttribute("data-strength"));
    if (!box) { return; }
    var meter = box.querySelector("meter");
    var label = box.querySelector("span");
    var labels = (input.getAttribute("data-labels") || "").split("|");
    input.addEventListener("input", function () {
      var score = estimate(input.value);
      box.hidden = input.value.length === 0;
      meter.value = score;
      label.textContent = labels[Math.max(score - 1, 0)] || "";
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var inputs = document.querySelectorAll("input[data-strength]");
    for (var i = 0; i < inputs.length; i += 1) { attach(inputs[i]); }
  });
}());
