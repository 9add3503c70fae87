// « Imprimer » buttons: shown only when JavaScript runs (without it, the page says Ctrl + P).
document.querySelectorAll("[data-imprimer]").forEach((button) => {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
});
