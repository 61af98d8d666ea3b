/* The transcript page's "Print or save as PDF" button (no inline script: CSP script-src 'self'). */
document.querySelectorAll('.fc-tr-print').forEach((button) => {
  button.addEventListener('click', () => window.print());
});
