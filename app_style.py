"""The app's stylesheet and script (Gradio ``css`` and ``head``): card and chat styling for
both sizes, and the click handler that scrolls from an answer's [n] to its source card."""

APP_CSS = """
.gradio-container {max-width: 1320px !important; margin: 0 auto;}
#title h2 {margin-bottom: 0;}
.status-line {font-size: 0.9em; opacity: 0.9; padding: 2px 0;}
.status-error {color: #b91c1c; opacity: 1; font-weight: 500;}
#filters-line p {font-size: 0.9em; margin: 0;}
#sources {max-height: 640px; overflow-y: auto; padding-right: 4px;}
.src-card {border: 1px solid var(--border-color-primary); border-radius: 8px;
           padding: 10px 12px; margin-bottom: 10px; background: var(--background-fill-secondary);
           scroll-margin-top: 16px; transition: box-shadow .3s, border-color .3s;
           overflow-wrap: anywhere;}
.src-flash {border-color: var(--color-accent); box-shadow: 0 0 0 3px var(--color-accent-soft);}
.src-title {font-weight: 600; margin-bottom: 4px;} .src-n {color: var(--color-accent);}
.src-meta {font-size: 0.88em; opacity: 0.85; margin-top: 2px;}
.src-links {margin-top: 4px; font-size: 0.9em;}
.src-warn {color: #b45309; font-size: 0.88em; margin-top: 4px;}
.src-text {margin: 6px 0 0 0; font-size: 0.88em; border-left: 3px solid var(--color-accent);
           padding-left: 8px; white-space: pre-wrap;}
.src-q {font-size: 0.85em; opacity: 0.75; margin: 0 0 6px 0;}
.src-turn summary {cursor: pointer; font-size: 0.85em; opacity: 0.75; margin: 8px 0;}
.src-empty {opacity: 0.7; font-size: 0.9em;}
mark {background: #fde68a; color: inherit; padding: 0 1px; border-radius: 2px;}
.message a[href*="#src-"] {text-decoration: none; font-weight: 600;}
#papers-table, #papers-table * {font-family: var(--font) !important;}
#papers-table {font-size: var(--text-md);}
@media (max-width: 700px) {
  #sources {max-height: none;}
  #ask-row {flex-wrap: nowrap !important;}
  #ask-row {gap: 6px !important; align-items: stretch;}
  #ask-row #question {min-width: 0 !important; flex: 1 1 auto !important;}
  #ask-row button {min-width: 58px !important; padding: 6px 10px !important;
                   flex: 0 0 auto !important;}
  #chat .message ul {padding-left: 1.1em;}
  #papers-table table {table-layout: fixed !important; width: 100% !important;}
  #papers-table [data-col="2"], #papers-table [data-col="3"],
  #papers-table th[data-heading="2"], #papers-table th[data-heading="3"] {display: none !important;}
  #papers-table [data-col="0"], #papers-table th[data-heading="0"] {
    width: 28% !important; min-width: 28% !important; max-width: 28% !important;
    flex: 0 0 28% !important;}
  #papers-table [data-col="1"], #papers-table th[data-heading="1"] {
    width: 58% !important; min-width: 58% !important; max-width: 58% !important;
    flex: 0 0 58% !important;}
  #papers-table [data-col="4"], #papers-table th[data-heading="4"] {
    width: 14% !important; min-width: 14% !important; max-width: 14% !important;
    flex: 0 0 14% !important;}
}
"""

# clicking a [n] link in an answer scrolls to its source card (and unfolds earlier answers)
APP_HEAD = """
<script>
(() => {
  function jump(id) {
    const el = document.getElementById(id);
    if (!el) return false;
    const det = el.closest('details'); if (det) det.open = true;
    el.scrollIntoView({behavior: 'smooth', block: 'start'});
    el.classList.remove('src-flash'); void el.offsetWidth; el.classList.add('src-flash');
    setTimeout(() => el.classList.remove('src-flash'), 2500);
    return true;
  }
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest ? ev.target.closest('a[href*="#src-"]') : null;
    if (!a) return;
    ev.preventDefault(); ev.stopPropagation();
    jump(a.getAttribute('href').split('#').pop());
  }, true);
})();
</script>
"""
