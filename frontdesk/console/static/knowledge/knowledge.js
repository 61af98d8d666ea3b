// /console/knowledge: while a training or publish runs, show its progress; reload when it ends.
(function () {
  "use strict";
  var box = document.querySelector(".fc-kb-job");
  if (!box) return;
  function show(job) {
    var names = { running: "Working", done: "Done", failed: "Failed" };
    box.dataset.state = job.state || "";
    box.replaceChildren();
    if (!job.state) return;
    var line = document.createElement("p");
    var state = document.createElement("strong");
    state.className = "fc-kb-job-state";
    state.textContent = names[job.state] || job.state;
    var step = document.createElement("span");
    step.className = "fc-kb-job-step";
    step.textContent = job.step || "";
    line.append(state, " · ", step);
    var detail = document.createElement("p");
    detail.className = "fc-kb-job-detail fc-muted";
    detail.textContent = job.detail || "";
    box.append(line, detail);
  }
  function poll() {
    fetch("/console/knowledge/job", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (job) {
        if (!job) return;
        show(job);
        if (job.state === "running") setTimeout(poll, 1000);
        else window.location.reload();
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  if (box.dataset.state === "running") setTimeout(poll, 1000);
})();
