"""The app's stylesheet (Gradio ``css``): chat, source cards, citation previews, filter chips
and the papers list, for both colour schemes (Gradio puts ``.dark`` on the page) and both
sizes (phones below 700 px: no inner scrollbar in the chat, nothing wider than the screen).
Text colours are chosen for a contrast of at least 4.5:1 on their background in both schemes
(checked by tests/test_browser.py with axe-core and by computing the highlight's contrast)."""

APP_CSS = """
.gradio-container {max-width: 1320px !important; margin: 0 auto; width: 100%;}
html, body {overflow-anchor: none;}  /* a growing answer must not push itself off screen */
#title h1 {margin-bottom: 0; font-size: 1.6em;}
#sources-title h2 {font-size: 1.15em; margin: 0;}
button[role="tab"][aria-selected="true"] {color: #c2410c !important;}
.dark button[role="tab"][aria-selected="true"] {color: #fdba74 !important;}
#chat .prose {opacity: 1 !important;}  /* Gradio dims message text to 0.8: links fail 4.5:1 */
.status-line {font-size: 0.9em; padding: 2px 0;}
.status-line code {font-size: 0.95em;}
.status-error {color: #b91c1c; font-weight: 500;}
.dark .status-error {color: #fca5a5;}
#filters-line {align-items: center; gap: 6px !important; flex-wrap: wrap !important;}
#filters-line > * {flex: 0 1 auto !important; min-width: 0 !important; width: auto !important;}
#filters-label p {font-size: 0.9em; margin: 0;}
button.chip {border-radius: 999px !important; padding: 2px 10px !important; max-width: 100%;
             font-size: 0.85em !important; font-weight: 500 !important; white-space: normal;
             text-align: left;}
#chat-row {align-items: end; gap: 8px !important; flex-wrap: wrap !important;}
#chat-row > button {align-self: end;}
#past-chats {min-width: 200px !important;}
/* the chat: its icons sit in their own row above the messages and never cover them */
#chat > .wrapper {display: flex; flex-direction: column; height: 100%;}
#chat .top-panel {position: static !important; align-self: flex-end; margin: 2px 4px 0 0;}
#chat .bubble-wrap {flex: 1 1 auto; min-height: 0;}
#chat a[href*="#src-"] {color: var(--link-text-color); font-weight: 600;
                        text-decoration: underline dotted; text-underline-offset: 2px;}
#chat a[href*="#src-"]:hover, #chat a[href*="#src-"]:focus {text-decoration-style: solid;}
#chat a[href^="#copy-"], #chat a[href^="#bib-"], #chat a[href^="#ris-"] {
  font-size: 0.88em; color: var(--link-text-color);}
#copy-conv {white-space: nowrap;}
.cite-preview {position: fixed; z-index: 1000; max-height: 50vh; overflow: auto;
               background: var(--background-fill-primary); color: var(--body-text-color);
               border: 1px solid var(--border-color-primary); border-radius: 8px;
               box-shadow: 0 6px 24px rgba(0, 0, 0, .25); padding: 8px 10px;
               font-size: 0.88em; line-height: 1.4;}
.cite-preview-title {font-weight: 600; margin-bottom: 4px;}
.cite-preview-hint {font-size: 0.85em; margin-top: 6px; font-style: italic;}
.rag-toast {position: fixed; left: 50%; bottom: 16px; transform: translateX(-50%);
            z-index: 1001; background: #1f2937; color: #f9fafb; padding: 6px 12px;
            border-radius: 6px; font-size: 0.9em; opacity: 0; pointer-events: none;
            transition: opacity .2s;}
.rag-toast.shown {opacity: 1;}
#sources {max-height: 680px; overflow-y: auto; padding-right: 4px;}
.src-card {border: 1px solid var(--border-color-primary); border-radius: 8px;
           padding: 10px 12px; margin-bottom: 10px; background: var(--background-fill-secondary);
           scroll-margin-top: 16px; transition: box-shadow .3s, border-color .3s;
           overflow-wrap: anywhere;}
.src-flash {border-color: var(--color-accent); box-shadow: 0 0 0 3px var(--color-accent-soft);}
a.src-flash {outline: 3px solid var(--color-accent); outline-offset: 2px; border-radius: 3px;}
.src-title {font-weight: 600; margin-bottom: 4px;} .src-n {color: var(--link-text-color);}
.src-meta {font-size: 0.88em; margin-top: 2px;}
.src-links {margin-top: 4px; font-size: 0.9em;}
.src-warn {color: #9a3412; font-size: 0.88em; margin-top: 4px;}
.dark .src-warn {color: #fdba74;}
.src-text {margin: 6px 0 0 0; font-size: 0.88em; border-left: 3px solid var(--color-accent);
           padding-left: 8px; white-space: pre-wrap;}
.src-back {display: inline-block; font-size: 0.85em; margin-top: 6px;}
.src-q {font-size: 0.85em; margin: 0 0 6px 0;}
.src-turn summary {cursor: pointer; font-size: 0.85em; margin: 8px 0;}
.src-empty {font-size: 0.9em;}
mark {background: #fde68a; color: #1f2937; padding: 0 1px; border-radius: 2px;}
.dark mark {background: #854d0e; color: #fefce8;}
/* papers list */
#papers-tab, #papers {width: 100%;}
#papers-filters {flex-wrap: wrap !important;}
.papers-head {display: flex; flex-wrap: wrap; justify-content: space-between; gap: 4px 16px;
              font-size: 0.9em; margin: 4px 0 8px 0;}
.paper-list {list-style: none; margin: 0; padding: 0;}
.paper-row {display: grid; grid-template-columns: minmax(0, 1fr) auto; gap: 4px 12px;
            border-bottom: 1px solid var(--border-color-primary); padding: 6px 2px;}
.paper-row summary {display: grid; grid-template-columns: 0.8em 6.5em minmax(0, 1fr) 13em;
                    gap: 4px 10px; cursor: pointer;}
.paper-row summary::before {content: "▸";}
.paper-row details[open] summary::before {content: "▾";}
.paper-row details[open] summary {font-weight: 600;}
.paper-row .paper-card {margin: 8px 0 4px 0;}
.p-date {font-variant-numeric: tabular-nums; white-space: nowrap;}
.p-title, .p-auth {overflow-wrap: anywhere;}
.p-links {white-space: nowrap; font-size: 0.92em;}
@media (max-width: 700px) {
  .gradio-container {padding-left: 8px !important; padding-right: 8px !important;}
  #chat {height: auto !important; max-height: none !important; overflow: visible !important;}
  #chat > .wrapper {height: auto;}
  #chat .bubble-wrap {height: auto !important; max-height: none !important;
                      overflow: visible !important;}
  #sources {max-height: none;}
  #ask-row {flex-wrap: nowrap !important; gap: 6px !important; align-items: stretch;}
  #ask-row #question {min-width: 0 !important; flex: 1 1 auto !important;}
  #ask-row button {min-width: 58px !important; padding: 6px 10px !important;
                   flex: 0 0 auto !important;}
  #chat .message ul {padding-left: 1.1em;}
  .paper-row summary {grid-template-columns: 0.8em 5.6em minmax(0, 1fr);}
  .paper-row .p-auth {display: none;}
  .paper-row {grid-template-columns: minmax(0, 1fr);}
  .p-links {padding-left: calc(6.4em + 20px); white-space: normal;}
  #papers-filters .form > .block {flex: 1 1 40% !important; min-width: 140px !important;}
}
"""
