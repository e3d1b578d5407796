// firmpass team server: the live scan progress (no inline scripts: the CSP allows only this file)
(function () {
  const box = document.getElementById("progress");
  if (!box) return;
  const url = box.dataset.url;
  const tbody = document.getElementById("stages");
  function cell(tr, text) { const td = document.createElement("td"); td.textContent = text; tr.appendChild(td); }
  async function poll() {
    let doc;
    try { doc = await (await fetch(url, {credentials: "same-origin"})).json(); } catch (e) { setTimeout(poll, 2000); return; }
    document.getElementById("scan-status").textContent = doc.status_label;
    tbody.textContent = "";
    for (const st of doc.stages) {
      const tr = document.createElement("tr");
      tr.className = "stage-" + st.status;
      tr.dataset.stage = st.stage;
      cell(tr, st.stage); cell(tr, st.label);
      cell(tr, st.seconds == null ? "" : st.seconds.toFixed(2));
      cell(tr, Object.entries(st.counts || {}).map(([k, v]) => k + " " + v).join(", "));
      tbody.appendChild(tr);
    }
    if (doc.status === "done") { document.getElementById("open-results").hidden = false; box.dataset.finished = "1"; return; }
    if (doc.status === "failed") { const e = document.getElementById("scan-error"); e.hidden = false; e.textContent = doc.error || ""; box.dataset.finished = "1"; return; }
    setTimeout(poll, 700);
  }
  poll();
})();
