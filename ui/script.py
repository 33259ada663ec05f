"""The app's page script (Gradio ``head``): what happens in the browser without a server call.

* An answer's ``[n]`` (a link to ``#src-<turn>-<n>``) shows a preview of the cited sentences
  and their paper on hover or keyboard focus (on touch screens the first tap previews, the
  second opens the card); a click scrolls to the source card and unfolds earlier answers.
  The card's "Back to the answer" (``#back-<turn>-<n>``) returns to that ``[n]``.
* "Copy answer", "BibTeX" and "RIS" under an answer (``#copy-<turn>``, ``#bib-<turn>``,
  ``#ris-<turn>``), "Copy conversation" (``#copy-conv``) and the papers list's exports
  (``#papers-bib``, ``#papers-ris``) copy or download the texts the server rendered into
  hidden ``<div data-kind=…>`` elements (``ui.render.templates``): clean markdown with the
  references resolved, BibTeX, RIS. A polite live region says what happened.
* When a question is asked, the chat scrolls so that the question and the first line of its
  answer are in view (Gradio's own autoscroll is off: it showed the end of long answers).
"""

APP_HEAD = """
<script>
(() => {
  const $ = (s, r = document) => r.querySelector(s);
  const turnBox = (t) => $(`#sources .src-turn[data-turn="${t}"]`);
  const tpl = (box, kind) => {
    const el = box && box.querySelector(`:scope > .export[data-kind="${kind}"]`);
    return el ? el.textContent : null;
  };
  function say(msg) {
    let live = document.getElementById('rag-live');
    if (!live) {
      live = document.createElement('div');
      live.id = 'rag-live'; live.className = 'rag-toast';
      live.setAttribute('role', 'status'); live.setAttribute('aria-live', 'polite');
      document.body.appendChild(live);
    }
    live.textContent = msg; live.classList.add('shown');
    clearTimeout(say.timer);
    say.timer = setTimeout(() => live.classList.remove('shown'), 2500);
  }
  function copy(text, what) {
    window.ragLastCopy = text;
    const done = () => say(`Copied ${what} as markdown.`);
    const fallback = () => {
      const ta = document.createElement('textarea');
      ta.value = text; ta.setAttribute('readonly', ''); ta.style.position = 'fixed';
      ta.style.opacity = '0'; document.body.appendChild(ta); ta.select();
      try { document.execCommand('copy'); done(); } catch (e) { say('Copy failed.'); }
      ta.remove();
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else { fallback(); }
  }
  function download(text, name, type) {
    const url = URL.createObjectURL(new Blob([text], {type}));
    const a = document.createElement('a');
    a.href = url; a.download = name; document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 5000);
    say(`Downloaded ${name}.`);
  }
  const FORMATS = {bib: ['bib', 'application/x-bibtex', 'BibTeX'],
                   ris: ['ris', 'application/x-research-info-systems', 'RIS']};
  function flash(el) {
    el.classList.remove('src-flash'); void el.offsetWidth; el.classList.add('src-flash');
    setTimeout(() => el.classList.remove('src-flash'), 2500);
  }
  let lastCite = null;
  function jump(id) {
    const el = document.getElementById(id);
    if (!el) return false;
    const det = el.closest('details'); if (det) det.open = true;
    el.scrollIntoView({behavior: 'smooth', block: 'start'});
    flash(el);
    const back = el.querySelector('.src-back'); if (back) back.focus({preventScroll: true});
    return true;
  }
  function back(t, n) {
    let a = lastCite && lastCite.isConnected &&
            lastCite.getAttribute('href').endsWith(`#src-${t}-${n}`) ? lastCite : null;
    a = a || $(`#chat a[href$="#src-${t}-${n}"]`);
    if (!a) return;
    a.scrollIntoView({behavior: 'smooth', block: 'center'});
    a.focus({preventScroll: true}); flash(a);
  }
  // ---------------------------------------------------------------- citation preview
  let tip = null, tipFor = null;
  function hideTip() { if (tip) tip.hidden = true; tipFor = null; }
  function showTip(a) {
    const id = a.getAttribute('href').split('#').pop();
    const card = document.getElementById(id);
    if (!card) return;
    if (!tip) {
      tip = document.createElement('div');
      tip.id = 'cite-preview'; tip.className = 'cite-preview'; tip.setAttribute('role', 'tooltip');
      document.body.appendChild(tip);
    }
    const title = card.querySelector('.src-title');
    const marks = [...card.querySelectorAll('mark')].map(m => m.textContent);
    const text = marks.length ? marks.join(' … ')
                              : (card.querySelector('.src-text') || {}).textContent || '';
    tip.replaceChildren();
    const h = document.createElement('div'); h.className = 'cite-preview-title';
    h.textContent = title ? title.textContent.trim() : '';
    const q = document.createElement('div'); q.className = 'cite-preview-text';
    q.textContent = text.length > 420 ? text.slice(0, 420) + '…' : text;
    const hint = document.createElement('div'); hint.className = 'cite-preview-hint';
    hint.textContent = touch() ? 'Tap again to open the source card.'
                               : 'Click to open the source card.';
    tip.append(h, q, hint);
    a.setAttribute('aria-describedby', 'cite-preview');
    tip.hidden = false; tipFor = a;
    place(a);
  }
  function place(a) {
    const r = a.getBoundingClientRect(), w = Math.min(360, window.innerWidth - 16);
    tip.style.width = w + 'px';
    tip.style.left = Math.max(8, Math.min(r.left, window.innerWidth - w - 8)) + 'px';
    const below = r.bottom + 6, hgt = tip.offsetHeight;
    tip.style.top = (below + hgt > window.innerHeight && r.top - hgt - 6 > 0
                     ? r.top - hgt - 6 : below) + 'px';
  }
  const touch = () => window.matchMedia('(hover: none)').matches;
  const citeOf = (t) => t && t.closest ? t.closest('#chat a[href*="#src-"]') : null;
  let tapped = null;  // touch screens: the [n] whose preview the last tap opened
  document.addEventListener('mouseover', (ev) => {
    const a = citeOf(ev.target); if (a && !touch()) showTip(a);
  });
  document.addEventListener('mouseout', (ev) => { if (!touch() && citeOf(ev.target)) hideTip(); });
  document.addEventListener('focusin', (ev) => {
    if (touch()) return;
    const a = citeOf(ev.target); if (a) showTip(a); else hideTip();
  });
  document.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') hideTip(); });
  window.addEventListener('scroll', () => {  // follow the [n]; hide once it leaves the screen
    if (!tipFor) return;
    const r = tipFor.getBoundingClientRect();
    if (r.bottom < 0 || r.top > window.innerHeight) hideTip(); else place(tipFor);
  }, true);
  // ---------------------------------------------------------------- clicks
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest ? ev.target.closest('a[href*="#"], #copy-conv') : null;
    if (!a) { if (tip && !tip.hidden && !ev.target.closest('.cite-preview')) hideTip(); return; }
    if (a.id === 'copy-conv') {
      const parts = [...document.querySelectorAll('#sources .src-turn')]
        .sort((x, y) => x.dataset.turn - y.dataset.turn).map(b => tpl(b, 'turn')).filter(Boolean);
      if (parts.length) copy(parts.join('\\n\\n---\\n\\n'), 'the conversation');
      else say('Nothing to copy yet: ask a question first.');
      return;
    }
    const href = a.getAttribute('href') || '';
    let m = href.match(/#src-(\\d+)-(\\d+)$/);
    if (m || /#src-\\d+$/.test(href)) {
      ev.preventDefault(); ev.stopPropagation();
      if (a.closest('#chat') && touch() && tapped !== a) { tapped = a; showTip(a); return; }
      tapped = null; hideTip(); lastCite = a.closest('#chat') ? a : lastCite;
      jump(href.split('#').pop());
      return;
    }
    if ((m = href.match(/#back-(\\d+)-(\\d+)$/))) {
      ev.preventDefault(); back(m[1], m[2]); return;
    }
    if ((m = href.match(/#(copy|bib|ris)-(\\d+)$/))) {
      ev.preventDefault(); ev.stopPropagation();
      const box = turnBox(m[2]);
      if (m[1] === 'copy') {
        const text = tpl(box, 'md');
        if (text) copy(text, 'the answer with its references'); else say('Nothing to copy.');
      } else {
        const [ext, type, name] = FORMATS[m[1]], text = tpl(box, m[1]);
        if (text) download(text, `digest-rag-answer-${m[2]}.${ext}`, type);
        else say(`This answer cites no paper to export as ${name}.`);
      }
      return;
    }
    if ((m = href.match(/#papers-(bib|ris)$/))) {
      ev.preventDefault();
      const [ext, type] = FORMATS[m[1]], text = tpl($('#papers-list .papers-export'), m[1]);
      if (text) download(text, `digest-rag-papers.${ext}`, type); else say('No papers to export.');
    }
  }, true);
  // ---------------------------------------------------------------- scroll to a new question
  let users = 0, row = null, until = 0;
  const follow = () => {
    const list = document.querySelectorAll('#chat [data-testid="user"]');
    if (list.length > users) {  // a new question: keep it in view while its answer arrives
      const last = list[list.length - 1];
      row = last.closest('.message-row') || last; until = performance.now() + 2500;
    }
    users = list.length;
    if (row && row.isConnected && performance.now() < until) {
      const box = row.closest('.bubble-wrap');
      if (box && box.scrollHeight > box.clientHeight + 1) {  // the chat's own scrollbar
        const d = row.getBoundingClientRect().top - box.getBoundingClientRect().top;
        if (d < 0 || d > box.clientHeight * 0.5) box.scrollTop += d - 8;
      }
      const r = row.getBoundingClientRect();
      if (r.top < 0 || r.top > window.innerHeight * 0.6) {
        window.scrollTo({top: window.scrollY + r.top - 8});
      }
    }
  };
  new MutationObserver(follow).observe(document.documentElement, {childList: true, subtree: true});
})();
</script>
"""
