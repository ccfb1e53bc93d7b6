// Runbook markdown is untrusted: it is parsed by `marked` and the HTML sanitised by DOMPurify
// before it reaches the page, against an allow-list of the elements and attributes markdown
// makes. Nothing else survives: no script, event handler, style, form or media element, and no
// attribute that fetches (poster, background, srcset, an SVG image's href). Links only to http,
// https and mailto; images only when the reader allows remote ones, and then only over https
// (the CSP's img-src is https: for exactly this: the app itself shows no image, no font).
import DOMPurify from "dompurify";
import { marked } from "marked";

export interface Heading {
  level: number;
  text: string;
  id: string;
}

export interface Rendered {
  html: string;
  outline: Heading[];
  /** Images left out because remote images are not allowed. */
  blockedImages: number;
}

/** What markdown (GitHub's flavour) renders, and the note that stands in for an image. */
const ALLOWED_TAGS = [
  "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "hr", "blockquote", "pre", "code", "kbd",
  "em", "strong", "del", "s", "sup", "sub", "ul", "ol", "li", "a", "img", "span",
  "table", "thead", "tbody", "tr", "th", "td", "details", "summary",
];
/** `class` only for the blocked-image note, which the hook adds after sanitising. */
const ALLOWED_ATTR = ["href", "src", "alt", "title", "align", "start"];

const LINK = /^(https?:|mailto:)/i;
const IMAGE = /^https:/i;

/** Sanitised HTML of `markdown`, with ids on its headings and the outline they make. */
export function renderRunbook(markdown: string, allowRemoteImages: boolean): Rendered {
  const raw = marked.parse(markdown, { async: false, gfm: true }) as string;
  let blockedImages = 0;
  const purifier = DOMPurify();
  purifier.addHook("uponSanitizeElement", (node, data) => {
    if (data.tagName === "img") {
      const element = node as Element;
      const src = element.getAttribute("src") ?? "";
      if (!allowRemoteImages || !IMAGE.test(src.trim())) {
        blockedImages += 1;
        const note = element.ownerDocument.createElement("span");
        note.className = "blocked-image";
        note.textContent = `[image ${element.getAttribute("alt") || src} not loaded]`;
        element.replaceWith(note);
      }
    }
  });
  purifier.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") {
      const href = node.getAttribute("href") ?? "";
      if (!LINK.test(href.trim())) node.removeAttribute("href");
      node.removeAttribute("target");
    }
  });
  const fragment = purifier.sanitize(raw, {
    RETURN_DOM_FRAGMENT: true,
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOW_DATA_ATTR: false,
    ALLOW_ARIA_ATTR: false,
  }) as DocumentFragment;
  const outline: Heading[] = [];
  const used = new Set<string>();
  fragment.querySelectorAll("h1, h2, h3").forEach((h) => {
    const text = h.textContent ?? "";
    let id = `rb-${text.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "section"}`;
    for (let n = 2; used.has(id); n += 1) id = `${id}-${n}`;
    used.add(id);
    h.id = id;
    outline.push({ level: Number(h.tagName[1]), text, id });
  });
  const holder = document.createElement("div");
  holder.appendChild(fragment);
  return { html: holder.innerHTML, outline, blockedImages };
}
