// The risk table's "tick every customer on this page" box. Delegated from the document,
// so it keeps working after htmx swaps the table.
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement)) return;
  const table = box.closest("table");
  if (box.id === "pick-all" && table) {
    for (const pick of table.querySelectorAll('input[name="customer"]')) pick.checked = box.checked;
  } else if (box.name === "customer" && table) {
    const all = table.querySelector("#pick-all");
    const picks = [...table.querySelectorAll('input[name="customer"]')];
    if (all) all.checked = picks.length > 0 && picks.every((pick) => pick.checked);
  }
});
