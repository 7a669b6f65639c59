// A batch's progress page (issue 17): polls the batch's counts and reloads the page when they
// change, until it is finished. No framework; without JavaScript, reloading shows the same.
(function () {
  "use strict";
  var box = document.getElementById("bulk-progress");
  if (!box || box.dataset.finished === "1") return;
  var handled = box.dataset.handled;
  var timer = setInterval(function () {
    fetch(box.dataset.poll, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (p && (String(p.handled) !== handled || p.finished)) {
          clearInterval(timer);
          window.location.reload();
        }
      })
      .catch(function () { /* the next poll tries again */ });
  }, 2000);
})();
