// The snippet page: until the worker has saved the highlighted HTML, ask for it every second
// and swap it in when it arrives. (Loaded from this site; the CSP forbids inline scripts.)
(function () {
  var box = document.querySelector("[data-status-url]");
  if (!box) return;
  var status = document.getElementById("status");
  var tries = 0;
  function poll() {
    tries += 1;
    fetch(box.getAttribute("data-status-url"), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.highlighted) {
          box.innerHTML = s.html;  // pygments output, built by the worker from escaped tokens
          box.removeAttribute("data-status-url");
          status.innerHTML = '<span class="badge done">highlighted</span>';
        } else {
          setTimeout(poll, tries < 60 ? 1000 : 5000);
        }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 500);
})();
