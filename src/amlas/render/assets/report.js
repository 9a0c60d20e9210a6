/* AMLAS report script. The case data, the diagrams and the rest of long tables are
   fragments: deflated, base64, in <script type="application/x-amlas-pack"> blocks,
   inflated with the browser's DecompressionStream when first needed (after the load
   event at the earliest).
   Every piece of data is written with textContent or as an attribute value: never
   innerHTML, never a URL built from data. The only markup inserted is the generator's own
   (a diagram's SVG, escaped by ElementTree; table rows, escaped by Jinja2), parsed as
   markup exactly as the page around it was. */
(function () {
  "use strict";
  var SVG_NS = "http://www.w3.org/2000/svg";
  var VERDICTS = { pass: 1, fail: 1, inconclusive: 1 };
  var STATUSES = { supported: 1, failed: 1, inconclusive: 1, undeveloped: 1, stale: 1 };
  var TYPE_NAMES = {
    goal: "Goal", strategy: "Strategy", solution: "Solution", context: "Context",
    assumption: "Assumption", justification: "Justification", counter_solution: "Counter-solution"
  };
  var CARDS = 20; /* a node citing more records lists them in a table, cards on demand */
  var ROWS = 100; /* rows of that table drawn at first; the others on request */
  var data = null, nodes = {}, records = [], reviews = {};
  var parents = {};
  var challengedBy = {};
  var viewByRoot = {};
  var drawnIn = {};
  var panel = document.getElementById("detail");
  var body = document.getElementById("detail-body");
  var title = document.getElementById("detail-title");
  var current = null;
  var selected = [];

  /* fragments */
  var packs = {};
  function bytesOf(text) {
    if (typeof Uint8Array.fromBase64 === "function") return Uint8Array.fromBase64(text);
    var binary = atob(text), out = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }
  /* a pack inflates to a header line of its fragments' lengths (UTF-16 code units, as
     JavaScript counts), then the fragments one after another */
  function pack(number) {
    if (!packs[number]) {
      var block = document.getElementById("pack-" + number);
      var stream = new Blob([bytesOf(block.textContent.trim())]).stream()
        .pipeThrough(new DecompressionStream("deflate"));
      packs[number] = new Response(stream).text().then(function (text) {
        var newline = text.indexOf("\n"), at = newline + 1;
        return text.slice(0, newline).split(",").map(function (length) {
          var item = text.slice(at, at + Number(length));
          at += Number(length);
          return item;
        });
      });
    }
    return packs[number];
  }
  function fragment(ref) {
    var at = String(ref).split(".");
    return pack(Number(at[0])).then(function (items) { return items[Number(at[1])]; });
  }
  function markup(text, context) {
    var range = document.createRange();
    range.selectNodeContents(context);
    return range.createContextualFragment(text);
  }
  function frame() { return new Promise(function (done) { requestAnimationFrame(function () { done(); }); }); }

  /* nothing is inflated before the page's load event: the page is there first */
  var loaded = new Promise(function (done) {
    if (document.readyState === "complete") done();
    else window.addEventListener("load", function () { setTimeout(done, 0); });
  });
  var ready = loaded.then(function () {
    return fragment(document.body.getAttribute("data-case"));
  }).then(function (text) {
    data = JSON.parse(text);
    nodes = data.nodes;
    records = data.evidence;
    reviews = data.reviews || {};
    Object.keys(nodes).forEach(function (id) {
      var node = nodes[id];
      (node.supported_by || []).concat(node.in_context_of || []).forEach(function (child) {
        (parents[child] = parents[child] || []).push(id);
      });
      if (node.challenges) {
        (challengedBy[node.challenges] = challengedBy[node.challenges] || []).push(id);
      }
    });
    data.views.forEach(function (view, index) {
      if (view.root && viewByRoot[view.root] === undefined) viewByRoot[view.root] = index;
      (view.nodes || []).forEach(function (id) { (drawnIn[id] = drawnIn[id] || []).push(index); });
    });
  });

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVG_NS, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    return e;
  }
  function num(x) {
    if (typeof x !== "number" || !isFinite(x)) return "\u2013";
    if (Number.isInteger(x)) return String(x);
    return String(Number(x.toFixed(4)));
  }
  function badge(kind, value) {
    var known = kind === "status" ? STATUSES[value] : VERDICTS[value];
    return el("span", "badge " + kind + "-" + (known ? value : "other"), value);
  }
  function nodeButton(id) {
    var b = el("button", "node-link", id);
    b.type = "button";
    b.setAttribute("data-node", id);
    return b;
  }
  function heading(text) { return el("h3", null, text); }
  function kv(pairs) {
    var dl = el("dl", "kv");
    pairs.forEach(function (p) {
      if (p[1] === undefined || p[1] === null || p[1] === "") return;
      dl.appendChild(el("dt", null, p[0]));
      var dd = el("dd");
      if (p[1] instanceof Node) dd.appendChild(p[1]); else dd.textContent = String(p[1]);
      dl.appendChild(dd);
    });
    return dl;
  }
  function links(label, ids) {
    if (!ids || !ids.length) return null;
    var box = el("div", "links");
    box.appendChild(heading(label));
    ids.forEach(function (id) { box.appendChild(nodeButton(id)); });
    return box;
  }

  /* views: a diagram is inflated when its view is first shown, then fitted, panned, zoomed */
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.view"));
  var select = document.getElementById("view-select");
  var shown = 0;
  var drawing = {};
  var MIN_FIT = 0.35, MIN_ZOOM = 0.02, MAX_ZOOM = 4;
  var VIRTUAL = 400; /* a diagram of more elements and links inserts only those in sight */
  var MARGIN = 0.1; /* and those within a tenth of the frame of it */
  var GTAG = /<g[\s>]|<\/g>/g;
  var NUMBER = /-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?/gi;
  var ENTITY = /&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);/gi;
  function unescaped(text) {
    return text.replace(ENTITY, function (all, name) {
      var named = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[name.toLowerCase()];
      if (named) return named;
      return String.fromCodePoint(name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16) : Number(name.slice(1)));
    });
  }
  var ATTRIBUTES = {};
  function attribute(tag, name) {
    var re = ATTRIBUTES[name] || (ATTRIBUTES[name] = new RegExp("\\s" + name + '="([^"]*)"'));
    var m = re.exec(tag);
    return m ? m[1] : null;
  }
  /* Graphviz's SVG as the graph's opening and closing markup and its top-level groups
     (elements and links), each with its box in the graph's coordinates, read from the
     markup alone: nothing is laid out to find where an element is. An indexer reads
     until a given time (performance.now()) and says whether it has finished, so that the
     reading can be done in slices of idle time; its ``result`` is then the index (null:
     not Graphviz's markup). */
  function indexer(text) {
    var at = text.indexOf(' class="graph"');
    var self = { done: at < 0, result: null };
    if (self.done) { self.step = function () { return true; }; return self; }
    var tagStart = text.lastIndexOf("<g", at), open = text.indexOf(">", at) + 1;
    var transform = attribute(text.slice(tagStart, open), "transform") || "";
    var t = /translate\(([^)]*)\)/.exec(transform), k = /scale\(([^)]*)\)/.exec(transform);
    var tn = t ? t[1].match(NUMBER) : null, kn = k ? k[1].match(NUMBER) : null;
    var items = [], depth = 0, begin = -1, first = -1, close = -1, from = open;
    var gtag = new RegExp(GTAG.source, "g");
    self.step = function (until) {
      var m, count = 0;
      gtag.lastIndex = from;
      while (!self.done) {
        if (++count % 64 === 0 && performance.now() >= until) { from = gtag.lastIndex; return false; }
        m = gtag.exec(text);
        if (!m) { self.done = true; break; }
        if (m[0] === "</g>") {
          if (depth === 0) { close = m.index; self.done = true; break; }
          depth -= 1;
          if (depth === 0) items.push(item(text.slice(begin, gtag.lastIndex)));
        } else {
          if (depth === 0) begin = m.index;
          if (first < 0) first = m.index;
          depth += 1;
        }
      }
      if (close >= 0 && !self.result) {
        self.result = {
          head: text.slice(0, first >= 0 ? first : close),
          tail: text.slice(close),
          items: items,
          tx: tn ? Number(tn[0]) : 0, ty: tn && tn.length > 1 ? Number(tn[1]) : 0,
          k: kn ? Number(kn[0]) : 1
        };
      }
      return true;
    };
    return self;
  }
  function item(markup) {
    var box = { markup: markup, x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity, node: null, away: false, on: false };
    function add(x, y) {
      if (x < box.x0) box.x0 = x; if (x > box.x1) box.x1 = x;
      if (y < box.y0) box.y0 = y; if (y > box.y1) box.y1 = y;
    }
    var re = /\s(?:points|d)="([^"]*)"/g, m;
    while ((m = re.exec(markup))) {
      var n = m[1].match(NUMBER) || [];
      for (var i = 0; i + 1 < n.length; i += 2) add(Number(n[i]), Number(n[i + 1]));
    }
    var ellipses = /<ellipse[^>]*>/g;
    while ((m = ellipses.exec(markup))) {
      var cx = Number(attribute(m[0], "cx")), cy = Number(attribute(m[0], "cy"));
      var rx = Number(attribute(m[0], "rx")), ry = Number(attribute(m[0], "ry"));
      add(cx - rx, cy - ry); add(cx + rx, cy + ry);
    }
    var first = markup.slice(0, markup.indexOf(">") + 1);
    var node = attribute(first, "data-node");
    if (node !== null) {
      box.node = unescaped(node);
      box.away = /\sclass="[^"]*\bgsnaway\b/.test(first);
    }
    return box;
  }
  function prepareNodes(root) {
    var changed = (data && data.changed) || {};
    root.querySelectorAll("[data-node]").forEach(function (g) {
      g.setAttribute("tabindex", "0");
      g.setAttribute("role", "button");
      var how = changed[g.getAttribute("data-node")];
      if (how) g.classList.add("changed", "changed-" + how);
    });
  }
  /* the groups ``its`` as elements, in order, inside ``context``'s namespace: the ones
     parsed ahead (``it.el``) as they are, the others parsed now */
  function groups(its, context) {
    var out = document.createDocumentFragment(), run = [];
    function flush() {
      if (!run.length) return;
      var parsed = markup(run.join(""), context);
      prepareNodes(parsed);
      out.appendChild(parsed);
      run = [];
    }
    its.forEach(function (it) {
      if (it.el) { flush(); out.appendChild(it.el); it.el = null; }
      else run.push(it.markup);
    });
    flush();
    return out;
  }
  /* A view's diagram inflated and indexed (a job: ``promise`` resolves once inflated;
     ``reader`` indexes). The views of the modules are prepared in idle time once the
     first diagram is drawn (``ahead``), the groups of a large one parsed too, so that
     opening its tab inserts and paints, and nothing else; any other view when opened. */
  var prepared = {};
  var PARSE_BATCH = 100; /* groups parsed ahead at a time */
  function prepare(index_) {
    if (!prepared[index_]) {
      var box = sections[index_].querySelector(".diagram");
      var job = { text: null, reader: null, parsed: 0 };
      job.promise = fragment(box.getAttribute("data-fragment")).then(function (text) {
        job.text = text;
        job.reader = indexer(text);
        return job;
      });
      prepared[index_] = job;
    }
    return prepared[index_];
  }
  /* parse ahead, until ``until``, the groups of a large diagram not yet in the page;
     whether all are */
  function parseAhead(job, until) {
    var d = job.reader.result;
    if (!d || d.items.length <= VIRTUAL) return true;
    var context = document.createElementNS(SVG_NS, "g");
    while (job.parsed < d.items.length) {
      if (performance.now() >= until) return false;
      var batch = d.items.slice(job.parsed, job.parsed + PARSE_BATCH).filter(function (it) {
        return !it.on && !it.el;
      });
      job.parsed += PARSE_BATCH;
      if (!batch.length) continue;
      var parsed = markup(batch.map(function (it) { return it.markup; }).join(""), context);
      var elements = Array.prototype.slice.call(parsed.children);
      if (elements.length !== batch.length) continue; /* not one element each: parsed when shown */
      prepareNodes(parsed);
      batch.forEach(function (it, i) { it.el = elements[i]; });
    }
    return true;
  }
  var SLICE = 16; /* ms of idle time taken at once at most (a frame): a click that comes
     meanwhile waits no longer than that */
  function whenIdle(work) {
    if (window.requestIdleCallback) window.requestIdleCallback(work, { timeout: 2000 });
    else setTimeout(function () { work({ timeRemaining: function () { return SLICE; } }); }, 20);
  }
  function ahead(queue) {
    if (!queue.length) return;
    var job = prepare(queue[0]);
    job.promise.then(function () {
      whenIdle(function slice(deadline) {
        var until = performance.now() + Math.max(1, Math.min(SLICE, deadline.timeRemaining()));
        if (job.reader.step(until) && parseAhead(job, until)) {
          queue.shift();
          ahead(queue);
        } else {
          whenIdle(slice);
        }
      });
    });
  }
  function draw(index_) {
    var section = sections[index_];
    if (!drawing[index_]) {
      var box = section.querySelector(".diagram");
      var asked = performance.now();
      var job = prepare(index_), ahead_ = !!(job.reader && job.reader.done);
      drawing[index_] = job.promise.then(function () {
        var inflated = performance.now();
        job.reader.step(Infinity);
        var d = job.reader.result, text = job.text;
        var read = performance.now();
        var whole = !d || d.items.length <= VIRTUAL;
        var parsed = markup(whole ? text : d.head + d.tail, box);
        prepareNodes(parsed);
        box.appendChild(parsed);
        var svgEl = box.querySelector("svg");
        var diagram = d || { items: [], tx: 0, ty: 0, k: 1 };
        diagram.virtual = !whole;
        diagram.svg = svgEl;
        diagram.graph = svgEl ? svgEl.querySelector("g.graph") : null;
        diagram.byNode = {};
        diagram.items.forEach(function (it) {
          it.on = whole;
          if (it.node !== null && !it.away && !diagram.byNode[it.node]) diagram.byNode[it.node] = it;
        });
        var viewBox = svgEl && svgEl.viewBox && svgEl.viewBox.baseVal;
        diagram.f = viewBox && viewBox.width ? svgEl.width.baseVal.value / viewBox.width : 1;
        section.diagram = diagram;
        section.setAttribute("data-ready", "1");
        /* what a diagram's first drawing cost, for benchmarks/report_browser.py */
        section.timing = {
          inflate: inflated - asked, index: read - inflated, insert: performance.now() - read,
          ahead: ahead_
        };
        return section;
      });
    }
    return drawing[index_];
  }
  /* insert the groups of a large diagram that lie in the frame, and those near it (within
     MARGIN) once the frame is painted, in idle time */
  function update(section, margin) {
    var d = section.diagram, z = section.zoom;
    if (!d || !d.virtual || !z || !d.graph) return;
    var box = section.querySelector(".diagram");
    var k = z.s * d.f * d.k, w = box.clientWidth, h = box.clientHeight, m = margin || 0;
    var x0 = (-z.x - w * m) / k - d.tx, x1 = (w * (1 + m) - z.x) / k - d.tx;
    var y0 = (-z.y - h * m) / k - d.ty, y1 = (h * (1 + m) - z.y) / k - d.ty;
    var add = [], added = [];
    d.items.forEach(function (it) {
      if (it.on || it.x1 < x0 || it.x0 > x1 || it.y1 < y0 || it.y0 > y1) return;
      it.on = true;
      add.push(it);
      if (it.node !== null) added.push(it.node);
    });
    if (add.length) d.graph.appendChild(groups(add, d.graph));
    if (current !== null && added.indexOf(current) >= 0) highlight(current);
    if (!margin && !section.nearing) {
      section.nearing = true;
      whenIdle(function () { section.nearing = false; update(section, MARGIN); });
    }
  }
  function showView(index_) {
    var next = sections[index_];
    if (!next) return Promise.resolve(null);
    if (sections[shown] && shown !== index_) sections[shown].hidden = true;
    next.hidden = false;
    shown = index_;
    if (select) select.value = String(index_);
    document.querySelectorAll(".tab").forEach(function (tab) {
      var on = tab.getAttribute("data-goto-view") === String(index_);
      tab.setAttribute("aria-selected", on ? "true" : "false");
    });
    return draw(index_).then(function (section) {
      if (!section.zoom) fit(section);
      return section;
    });
  }
  function diagramOf(section) { return section.diagram ? section.diagram.svg : null; }
  function place(section, scale, x, y) {
    var svgEl = diagramOf(section);
    if (!svgEl) return;
    section.zoom = { s: scale, x: x, y: y };
    svgEl.style.transform = "translate(" + x.toFixed(1) + "px," + y.toFixed(1) + "px) scale(" + scale.toFixed(4) + ")";
    update(section);
  }
  function natural(svgEl) {
    return { w: svgEl.width.baseVal.value || 1, h: svgEl.height.baseVal.value || 1 };
  }
  function rootOf(section) {
    var view = data && data.views[Number(section.getAttribute("data-index"))];
    return view && view.root ? view.root : null;
  }
  /* where a node is at scale 1, in px from the diagram's corner: from the index, else
     from the page (a diagram not drawn by Graphviz) */
  function spot(section, id) {
    var d = section.diagram;
    var it = id !== null ? d.byNode[id] : null;
    if (!it && !d.items.length) {
      var svgEl = d.svg;
      var element = (id !== null && svgEl.querySelector('[data-node="' + CSS.escape(id) + '"]:not(.gsnaway)')) ||
        svgEl.querySelector("g.gsnnode");
      if (!element) return null;
      var keep = svgEl.style.transform;
      svgEl.style.transform = "none";
      var frameRect = svgEl.getBoundingClientRect(), r = element.getBoundingClientRect();
      svgEl.style.transform = keep;
      return { x0: r.left - frameRect.left, x1: r.right - frameRect.left, y0: r.top - frameRect.top, y1: r.bottom - frameRect.top };
    }
    if (!it) it = d.items.filter(function (x) { return x.node !== null && !x.away; })[0];
    if (!it) return null;
    var k = d.f * d.k;
    return { x0: k * (it.x0 + d.tx), x1: k * (it.x1 + d.tx), y0: k * (it.y0 + d.ty), y1: k * (it.y1 + d.ty) };
  }
  /* the node ``id`` in sight at ``scale``: centred across; near the top, or (middle) centred */
  function centreOn(section, id, scale, middle) {
    var box = section.querySelector(".diagram");
    var svgEl = diagramOf(section);
    if (!svgEl) return;
    var r = spot(section, id);
    var size = natural(svgEl);
    var w = box.clientWidth, h = box.clientHeight;
    var x = r ? w / 2 - scale * (r.x0 + r.x1) / 2 : (w - size.w * scale) / 2;
    var y = r ? (middle ? h / 2 - scale * (r.y0 + r.y1) / 2 : 16 - scale * r.y0) : 16;
    if (size.w * scale <= w) x = (w - size.w * scale) / 2;
    if (!middle && size.h * scale <= h) y = Math.min(y, (h - size.h * scale) / 2);
    place(section, scale, x, y);
  }
  function fit(section) {
    var box = section.querySelector(".diagram");
    var svgEl = diagramOf(section);
    if (!svgEl) return;
    var size = natural(svgEl);
    var scale = Math.min(1, box.clientWidth / size.w, box.clientHeight / size.h);
    centreOn(section, rootOf(section), Math.max(scale, Math.min(1, MIN_FIT)), false);
  }
  function zoomAt(section, factor, px, py) {
    var z = section.zoom;
    if (!z) return;
    var s = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, z.s * factor));
    place(section, s, px - (px - z.x) * (s / z.s), py - (py - z.y) * (s / z.s));
  }
  function zoomButton(kind) {
    var section = sections[shown];
    if (!section || !section.zoom) return;
    var box = section.querySelector(".diagram");
    if (kind === "in" || kind === "out") {
      zoomAt(section, kind === "in" ? 1.25 : 0.8, box.clientWidth / 2, box.clientHeight / 2);
    } else if (kind === "fit") {
      fit(section);
    } else if (kind === "actual") {
      centreOn(section, rootOf(section), 1, false);
    } else if (kind === "top") {
      centreOn(section, rootOf(section), section.zoom.s, false);
    }
  }
  var drag = null, dragged = false;
  sections.forEach(function (section) {
    var box = section.querySelector(".diagram");
    if (!box) return;
    box.addEventListener("wheel", function (event) {
      if (!section.zoom) return;
      event.preventDefault();
      var r = box.getBoundingClientRect();
      zoomAt(section, Math.exp(-event.deltaY * 0.0015), event.clientX - r.left, event.clientY - r.top);
    }, { passive: false });
    box.addEventListener("pointerdown", function (event) {
      if (event.button !== 0 || !section.zoom) return;
      drag = { section: section, x: event.clientX, y: event.clientY, zx: section.zoom.x, zy: section.zoom.y, id: event.pointerId, moved: false };
      dragged = false;
    });
    box.addEventListener("pointermove", function (event) {
      if (!drag || drag.section !== section) return;
      var dx = event.clientX - drag.x, dy = event.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      if (!drag.moved) { drag.moved = true; box.setPointerCapture(drag.id); box.classList.add("dragging"); }
      place(section, section.zoom.s, drag.zx + dx, drag.zy + dy);
    });
    function end() {
      if (!drag || drag.section !== section) return;
      dragged = drag.moved;
      box.classList.remove("dragging");
      drag = null;
    }
    box.addEventListener("pointerup", end);
    box.addEventListener("pointercancel", end);
    box.addEventListener("keydown", function (event) {
      if (!section.zoom || event.target !== box) return;
      var step = 60, z = section.zoom;
      var moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
      if (moves[event.key]) {
        event.preventDefault();
        place(section, z.s, z.x + moves[event.key][0], z.y + moves[event.key][1]);
      } else if (event.key === "+" || event.key === "=" || event.key === "-") {
        event.preventDefault();
        zoomAt(section, event.key === "-" ? 0.8 : 1.25, box.clientWidth / 2, box.clientHeight / 2);
      }
    });
  });
  /* a drag that moved is not a click on the element under it */
  document.addEventListener("click", function (event) {
    if (dragged) { dragged = false; event.stopPropagation(); event.preventDefault(); }
  }, true);
  /* the stored size of a view's pack: the largest diagrams, slowest to open, are
     prepared first */
  function packSize(index_) {
    var ref = sections[index_].querySelector(".diagram").getAttribute("data-fragment");
    var block = document.getElementById("pack-" + String(ref).split(".")[0]);
    return block ? block.textContent.length : 0;
  }
  if (sections.length) loaded.then(function () { return showView(0); }).then(function () {
    var modules = sections.map(function (section, index) { return index; }).filter(function (index) {
      return index !== 0 && !sections[index].classList.contains("subview");
    });
    var sizes = {};
    modules.forEach(function (index) { sizes[index] = packSize(index); });
    ahead(modules.sort(function (a, b) { return sizes[b] - sizes[a] || a - b; }));
  });
  if (select) select.addEventListener("change", function () { showView(Number(select.value)); });

  /* the rest of a long table, on request */
  function showRest(button) {
    var table = button.closest("p.more").previousElementSibling;
    var rest = table && table.querySelector("tbody.rest");
    if (!rest) return Promise.resolve();
    button.disabled = true;
    return fragment(rest.getAttribute("data-rest")).then(function (text) {
      rest.appendChild(markup(text, rest));
      rest.hidden = false;
      button.closest("p.more").remove();
    });
  }
  /* for printing: every diagram and every table row */
  window.amlasInflateAll = function () {
    var buttons = Array.prototype.slice.call(document.querySelectorAll("button.show-rest"));
    return Promise.all(sections.map(function (section, index) { return draw(index); })
      .concat(buttons.map(showRest), [ready])).then(function () {
      sections.forEach(function (section) {
        var d = section.diagram;
        if (d && d.virtual) {  /* every group, for a print or a search of the page */
          var rest = d.items.filter(function (it) { return !it.on; });
          rest.forEach(function (it) { it.on = true; });
          d.graph.appendChild(groups(rest, d.graph));
        }
        if (!section.zoom && !section.hidden) fit(section);
      });
    });
  };

  /* selection */
  function highlight(id) {
    selected.forEach(function (e) { e.classList.remove("selected"); });
    selected = Array.prototype.slice.call(
      document.querySelectorAll('.view [data-node="' + CSS.escape(id) + '"]'));
    selected.forEach(function (e) { e.classList.add("selected"); });
  }
  function viewsShowing(id) {
    return (drawnIn[id] || []).slice();
  }
  function reveal(index, id) {
    return showView(index).then(function (section) {
      if (!section) return;
      centreOn(section, id, Math.max(section.zoom ? section.zoom.s : 1, 0.8), true);
      highlight(id);
      section.scrollIntoView({ block: "start" });
    });
  }

  /* evidence */
  function chart(result, verdict) {
    var W = 130, H = 34;
    var values = [result.lower, result.upper, result.estimate, result.threshold].filter(function (v) {
      return typeof v === "number" && isFinite(v);
    });
    var s = svg("svg", { "class": "ci-chart", width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img" });
    if (!values.length) return s;
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    var span = hi - lo || Math.abs(hi) * 0.1 || 0.1;
    lo -= span * 0.2; hi += span * 0.2;
    function x(v) { return (6 + (v - lo) / (hi - lo) * (W - 12)).toFixed(2); }
    var cmp = result.comparison === "at_most" ? "\u2264 " : result.comparison === "at_least" ? "\u2265 " : "";
    var label = "estimate " + num(result.estimate) + ", interval [" + num(result.lower) + ", " +
      num(result.upper) + "], threshold " + cmp + num(result.threshold);
    var t = svg("title", {}); t.textContent = label; s.appendChild(t);
    s.setAttribute("aria-label", label);
    s.appendChild(svg("line", { x1: 4, x2: W - 4, y1: 24, y2: 24, stroke: "#bcccdc" }));
    var colour = verdict === "pass" ? "var(--supported-border)" : verdict === "fail" ?
      "var(--failed-border)" : "var(--inconclusive-border)";
    if (typeof result.lower === "number" && typeof result.upper === "number") {
      var x0 = Number(x(result.lower)), x1 = Number(x(result.upper));
      s.appendChild(svg("rect", { "class": "ci", x: x0.toFixed(2), y: 19, width: Math.max(1.5, x1 - x0).toFixed(2),
        height: 10, rx: 2, fill: colour, "fill-opacity": 0.35, stroke: colour }));
    }
    if (typeof result.threshold === "number") {
      var tx = x(result.threshold);
      s.appendChild(svg("line", { "class": "threshold", x1: tx, x2: tx, y1: 11, y2: 33, stroke: "#b42318",
        "stroke-width": 1.5, "stroke-dasharray": "3 2" }));
      var tl = svg("text", { x: tx, y: 9, "font-size": 9, "text-anchor": "middle", fill: "#b42318" });
      tl.textContent = cmp + num(result.threshold);
      s.appendChild(tl);
    }
    if (typeof result.estimate === "number") {
      s.appendChild(svg("circle", { "class": "estimate", cx: x(result.estimate), cy: 24, r: 3.5, fill: "#102a43" }));
    }
    return s;
  }
  function sliceTable(record) {
    var table = el("table", "slices");
    var head = el("tr");
    ["Slice", "Estimate", "Bound", "Threshold", "n", "Verdict", "Interval vs threshold"].forEach(function (h) {
      head.appendChild(el("th", null, h));
    });
    table.appendChild(el("thead")).appendChild(head);
    var tbody = table.appendChild(el("tbody"));
    record.results.forEach(function (r) {
      var row = el("tr", "slice-row");
      var cmp = r.comparison === "at_most" ? "\u2264 " : r.comparison === "at_least" ? "\u2265 " : "";
      row.appendChild(el("td", null, r.slice));
      var estimate = row.appendChild(el("td", null, num(r.estimate)));
      estimate.appendChild(el("div", "muted", "[" + num(r.lower) + ", " + num(r.upper) + "]"));
      var counted = typeof r.exposure === "number" ? num(r.exposure) + " " + (r.unit || "") : num(r.samples);
      [num(r.bound), cmp + num(r.threshold), counted].forEach(function (v) {
        row.appendChild(el("td", null, v));
      });
      row.appendChild(el("td")).appendChild(badge("verdict", r.verdict));
      row.appendChild(el("td")).appendChild(chart(r, r.verdict));
      tbody.appendChild(row);
      var extra = [];
      if (r.reason) extra.push(String(r.reason));
      if (typeof r.additional_samples === "number") extra.push("needs " + r.additional_samples + " more samples");
      if (r.failing_count) extra.push(r.failing_count + " failing" +
        (r.failing_ids && r.failing_ids.length ? ": " + r.failing_ids.slice(0, 8).join(", ") +
          (r.failing_ids.length > 8 ? ", \u2026" : "") :
          record.detail && record.detail.status !== "opened" ? " (ids " + record.detail.status +
            " for the verifier)" : ""));
      if (extra.length) {
        var why = el("tr", "reason-row");
        var cell = el("td", null, extra.join(" \u00b7 "));
        cell.colSpan = 7;
        why.appendChild(cell);
        tbody.appendChild(why);
      }
    });
    return table;
  }
  function genericTable(results) {
    var keys = [];
    results.forEach(function (r) {
      Object.keys(r).forEach(function (k) { if (keys.indexOf(k) < 0 && keys.length < 8) keys.push(k); });
    });
    var table = el("table", "slices");
    var head = el("tr");
    keys.forEach(function (k) { head.appendChild(el("th", null, k)); });
    table.appendChild(el("thead")).appendChild(head);
    var tbody = table.appendChild(el("tbody"));
    results.forEach(function (r) {
      var row = el("tr");
      keys.forEach(function (k) {
        var v = r[k];
        row.appendChild(el("td", null, typeof v === "number" ? num(v) :
          v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v)));
      });
      tbody.appendChild(row);
    });
    return table;
  }
  /* what a robustness, formal or fault record did, in words an assessor can check */
  function plain(v) {
    if (v === null || v === undefined) return "";
    if (typeof v === "number") return num(v);
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }
  function method(record) {
    var res = record.resolved || {};
    var pairs = [];
    var p = res.perturbation;
    if (p && typeof p === "object") {
      Object.keys(p).sort().forEach(function (k) {
        if (["perturbation_norms", "norms"].indexOf(k) < 0) pairs.push(["perturbation " + k, plain(p[k])]);
      });
    }
    if (res.outcomes) {
      pairs.push(["queries", Object.keys(res.outcomes).map(function (k) {
        return k + " " + res.outcomes[k];
      }).join(", ")]);
    }
    if (res.network) {
      pairs.push(["verified network", "ONNX " + String(res.network.sha256 || "").slice(0, 12) + "\u2026, " +
        res.network.decisions_agree + " of " + res.samples_queried + " decisions agree with the model" +
        (typeof res.network.max_abs_logit_difference === "number" ?
          ", max logit difference " + res.network.max_abs_logit_difference.toExponential(2) : "")]);
    }
    if (res.encoding) {
      if (res.encoding.statement) pairs.push(["property", res.encoding.statement]);
      if (res.encoding.region && res.encoding.region.formula) pairs.push(["region", res.encoding.region.formula]);
      if (res.encoding.method) pairs.push(["method", res.encoding.method]);
    }
    if (res.faults && typeof res.faults === "object") {
      var f = res.faults.fault_model || res.faults;
      ["kind", "target", "bits", "faults_per_campaign", "campaigns", "max_accuracy_loss"].forEach(function (k) {
        if (f[k] !== undefined) pairs.push(["fault " + k, plain(f[k])]);
      });
    }
    if (typeof res.baseline_accuracy === "number") pairs.push(["fault-free accuracy", num(res.baseline_accuracy)]);
    var q = res.loss_summary && res.loss_summary.loss_quantiles;
    if (q) {
      pairs.push(["accuracy loss", ["min", "p50", "p95", "p99", "max"].map(function (k) {
        return k + " " + num(q[k]);
      }).join(", ")]);
    }
    return pairs.length ? kv(pairs) : null;
  }
  /* a hazard-rate record as its chain: ML miss -> barriers -> hazard (the column's Figure 1) */
  function sci(x) {
    if (typeof x !== "number" || !isFinite(x)) return "\u2013";
    if (x === 0) return "0";
    return x >= 0.001 ? String(Number(x.toPrecision(3))) : x.toExponential(2);
  }
  function chainDiagram(record) {
    var res = record.resolved || {};
    var factors = res.factors || [];
    var row = (record.results || [])[0] || {};
    var boxes = factors.map(function (f) {
      return { title: f.kind === "ml" ? "ML failure" : "barrier fails", name: f.name,
        value: sci(f.estimate) + " [" + sci(f.lower) + ", " + sci(f.upper) + "]", kind: f.kind };
    });
    boxes.push({ title: "hazard " + record.subject, name: "rate per demand",
      value: sci(row.estimate) + " (upper " + sci(row.upper) + ")" +
        (typeof res.acceptable === "number" ? " vs \u2264 " + sci(res.acceptable) : ""), kind: "hazard" });
    var W = 190, H = 62, GAP = 34;
    var width = boxes.length * W + (boxes.length - 1) * GAP + 4;
    var s = svg("svg", { "class": "chain", width: width, height: H + 8, viewBox: "0 0 " + width + " " + (H + 8),
      role: "img" });
    var t = svg("title", {}); t.textContent = "Propagation chain of " + record.subject; s.appendChild(t);
    boxes.forEach(function (b, i) {
      var x = 2 + i * (W + GAP);
      var colour = b.kind === "hazard" ? (record.verdict === "pass" ? "var(--supported-border)" :
        record.verdict === "fail" ? "var(--failed-border)" : "var(--inconclusive-border)") : "#829ab1";
      s.appendChild(svg("rect", { x: x, y: 4, width: W, height: H, rx: 6, fill: "#fff", stroke: colour,
        "stroke-width": 1.5 }));
      [[b.title, 20, 11, "600"], [b.name, 38, 10, "400"], [b.value, 56, 10, "400"]].forEach(function (line) {
        var text = svg("text", { x: x + W / 2, y: line[1], "font-size": line[2], "font-weight": line[3],
          "text-anchor": "middle", fill: "#102a43" });
        var content = String(line[0]);
        text.textContent = content.length > 34 ? content.slice(0, 33) + "\u2026" : content;
        s.appendChild(text);
      });
      if (i < boxes.length - 1) {
        var ax = x + W + 4;
        s.appendChild(svg("line", { x1: ax, x2: ax + GAP - 10, y1: 4 + H / 2, y2: 4 + H / 2, stroke: "#486581",
          "stroke-width": 1.5 }));
        s.appendChild(svg("path", { d: "M" + (ax + GAP - 10) + "," + (H / 2) + " l6,4 l-6,4 z", fill: "#486581" }));
      }
    });
    var box = el("div", "table-scroll");
    box.appendChild(s);
    if (res.assumption) box.appendChild(el("p", "muted", "Assumption: " + res.assumption));
    return box;
  }
  /* a record produced outside amlas: who answers for it, what produced it, what amlas did */
  function provenance(p) {
    var box = el("div", "provenance");
    var doc = p.document;
    box.appendChild(el("p", "provenance-note", doc ?
      "Produced outside amlas: the verdict is the statement of the document below, recorded by amlas, not computed." :
      "Produced outside amlas: amlas computed the bound and the verdict itself from the imported counts."));
    var pairs = [["Origin", "external (amlas evidence import)"],
      ["Accountable", p.accountable ? p.accountable.person + ", " + p.accountable.organisation : ""],
      ["Tool", p.tool ? p.tool.name + " " + p.tool.version : ""], ["Date", p.date],
      ["Imported file", p.file], ["File sha256", p.sha256]];
    if (doc) {
      pairs.push(["Document", doc.title + " (" + String(doc.kind).replace(/_/g, " ") + ")"]);
      pairs.push(["Document file", doc.file]);
      pairs.push(["Document sha256", doc.sha256]);
    }
    if (p.data) {
      pairs.push(["Data", p.data.description]);
      if (p.data.sha256) pairs.push(["Data sha256", p.data.sha256]);
    }
    box.appendChild(kv(pairs));
    return box;
  }
  function recordCard(ref) {
    var card = el("div", "record");
    var r = typeof ref === "number" ? records[ref] : null;
    if (!r) {
      card.appendChild(el("p", "no", "Cited record " + String(ref).slice(0, 12) + "\u2026 is not in the evidence store."));
      return card;
    }
    var head = el("div", "record-head");
    head.appendChild(el("code", "record-key", r.key));
    head.appendChild(badge("verdict", r.verdict));
    if (r.stale && r.stale.length) head.appendChild(badge("status", "stale"));
    if (r.origin === "external") {
      card.className = "record external";
      head.appendChild(el("span", "badge origin-external", "external"));
    }
    card.appendChild(head);
    card.appendChild(el("p", "summary", r.summary));
    if (r.origin === "external" && r.provenance) card.appendChild(provenance(r.provenance));
    if (r.detail) {
      var what = r.detail.status === "opened" ? "Per-sample detail computed from sealed data, opened with the verifier key: keep it from the development team." :
        r.detail.status === "withheld" ? "Per-sample detail computed from sealed data was not kept (no verifier key when it was computed)." :
        "Per-sample detail (sample ids, values, counterexamples) is sealed for the verifier (key " +
          String(r.detail.key_id) + "); build the report with --key-file to see it.";
      card.appendChild(el("p", "sealed-note", what));
      card.appendChild(kv([["Sealed fields", (r.detail.fields || []).join(", ")]]));
    }
    card.appendChild(kv([["Check", r.check], ["Dataset", r.dataset ? "[" + r.dataset + "]" : ""],
      ["Role", r.role], ["Subject", r.subject], ["Stage", r.stage], ["Digest", r.digest.slice(0, 16) + "\u2026"]]));
    var done = method(r);
    if (done) { card.appendChild(heading("What was done")); card.appendChild(done); }
    if (r.check === "deployment.hazard_rate") {
      card.appendChild(heading("Propagation chain"));
      card.appendChild(chainDiagram(r));
    }
    var metric = r.results.some(function (x) { return "estimate" in x || "lower" in x; });
    if (r.results.length) {
      card.appendChild(el("div", "table-scroll")).appendChild(metric ? sliceTable(r) : genericTable(r.results));
    }
    var names = Object.keys(r.inputs).sort();
    if (names.length) {
      card.appendChild(heading("Inputs"));
      var table = el("table", "inputs");
      names.forEach(function (name) {
        var row = el("tr");
        row.appendChild(el("td", null, name));
        var hash = el("code", null, r.inputs[name].slice(0, 12) + "\u2026");
        hash.title = r.inputs[name];
        row.appendChild(el("td")).appendChild(hash);
        var stale = (r.stale || []).indexOf(name) >= 0;
        row.appendChild(el("td", stale ? "stale-flag" : "muted", stale ? "changed since (stale)" : "current"));
        table.appendChild(row);
      });
      card.appendChild(table);
    }
    return card;
  }

  /* many records: one row each, its card opened on demand, the rows beyond ROWS on request */
  function evidenceRow(ref) {
    var r = typeof ref === "number" ? records[ref] : null;
    var row = el("tr", "evidence-row");
    var open_ = el("button", "record-open", r ? r.key : String(ref).slice(0, 12) + "\u2026");
    open_.type = "button";
    open_.setAttribute("aria-expanded", "false");
    row.appendChild(el("td")).appendChild(open_);
    var verdict = row.appendChild(el("td"));
    if (r) {
      verdict.appendChild(badge("verdict", r.verdict));
      if (r.stale && r.stale.length) verdict.appendChild(badge("status", "stale"));
    }
    row.appendChild(el("td", null, r && r.dataset ? "[" + r.dataset + "]" : ""));
    row.appendChild(el("td", null, r ? r.summary : "not in the evidence store"));
    open_.addEventListener("click", function () {
      var next = row.nextElementSibling;
      if (next && next.classList.contains("card-row")) {
        next.remove();
        open_.setAttribute("aria-expanded", "false");
        return;
      }
      var cardRow = el("tr", "card-row");
      var cell = el("td");
      cell.colSpan = 4;
      cell.appendChild(recordCard(ref));
      cardRow.appendChild(cell);
      row.after(cardRow);
      open_.setAttribute("aria-expanded", "true");
    });
    return row;
  }
  function evidenceTable(refs) {
    var box = el("div", "evidence-list");
    var counts = {};
    refs.forEach(function (ref) {
      var r = records[ref];
      var v = r ? r.verdict : "missing";
      counts[v] = (counts[v] || 0) + 1;
    });
    box.appendChild(el("p", "muted", Object.keys(counts).sort().map(function (v) {
      return counts[v] + " " + v;
    }).join(" \u00b7 ") + ". Open a record to see its slices and inputs."));
    var table = el("table", "evidence-table");
    var head = el("tr");
    ["Record", "Verdict", "Data", "Summary"].forEach(function (h) { head.appendChild(el("th", null, h)); });
    table.appendChild(el("thead")).appendChild(head);
    var tbody = table.appendChild(el("tbody"));
    refs.slice(0, ROWS).forEach(function (ref) { tbody.appendChild(evidenceRow(ref)); });
    box.appendChild(table);
    if (refs.length > ROWS) {
      var more = el("button", "show-records", "Show the other " + (refs.length - ROWS) + " records");
      more.type = "button";
      more.addEventListener("click", function () {
        var rows = document.createDocumentFragment();
        refs.slice(ROWS).forEach(function (ref) { rows.appendChild(evidenceRow(ref)); });
        tbody.appendChild(rows);
        more.remove();
      });
      box.appendChild(more);
    }
    return box;
  }

  /* the panel */
  function open(id) {
    current = id;
    highlight(id);
    body.textContent = "";
    title.textContent = id;
    panel.hidden = false;
    var node = nodes[id];
    if (!node) {
      body.appendChild(el("p", "muted", id + " is not part of this case (a link to another argument)."));
      return;
    }
    var tags = el("p");
    tags.appendChild(badge("status", node.status));
    tags.appendChild(document.createTextNode(" " + (TYPE_NAMES[node.type] || node.type) + " \u00b7 " + node.module +
      (node.pattern ? " \u00b7 pattern " + node.pattern : "") + (node.extension ? " \u00b7 library extension" : "")));
    body.appendChild(tags);
    body.appendChild(el("p", "node-text", node.text));
    if (node.reason) { body.appendChild(heading("Why this status")); body.appendChild(el("p", null, node.reason)); }
    if (node.rationale) { body.appendChild(heading("Rationale")); body.appendChild(el("p", null, node.rationale)); }
    if (node.notes && node.notes.length) {
      body.appendChild(heading("Notes"));
      var ul = body.appendChild(el("ul"));
      node.notes.forEach(function (n) { ul.appendChild(el("li", null, n)); });
    }
    var facts = [];
    if (node.artefacts) facts.push(["Artefacts", node.artefacts.map(function (a) { return "[" + a + "]"; }).join(" ")]);
    if (node.binding) Object.keys(node.binding).forEach(function (k) { facts.push([k, node.binding[k]]); });
    if (node.undeveloped) facts.push(["Undeveloped", "yes: nothing supports it yet"]);
    if (node.defeated) facts.push(["Defeated", "yes: a counter-solution challenges it"]);
    if (facts.length) { body.appendChild(heading("Facts")); body.appendChild(kv(facts)); }
    [["Challenges", node.challenges ? [node.challenges] : null], ["Challenged by", challengedBy[id]],
      ["Backed by", node.backed_by ? [node.backed_by] : null], ["Supported by", node.supported_by],
      ["In context of", node.in_context_of], ["Supports / is context of", parents[id]]
    ].forEach(function (pair) { var box = links(pair[0], pair[1]); if (box) body.appendChild(box); });
    var where = viewsShowing(id);
    if (viewByRoot[id] !== undefined && where.indexOf(viewByRoot[id]) < 0) where.unshift(viewByRoot[id]);
    if (where.length) {
      body.appendChild(heading("In diagrams"));
      var box = body.appendChild(el("div", "links"));
      where.forEach(function (index) {
        var b = el("button", "goto", data.views[index] ? data.views[index].title : String(index));
        b.type = "button";
        b.setAttribute("data-reveal-view", String(index));
        b.setAttribute("data-reveal-node", id);
        box.appendChild(b);
      });
    }
    if (node.evidence && node.evidence.length) {
      body.appendChild(heading("Evidence (" + node.evidence.length + ")"));
      if (node.evidence.length <= CARDS) {
        node.evidence.forEach(function (ref) { body.appendChild(recordCard(ref)); });
      } else {
        body.appendChild(evidenceTable(node.evidence));
      }
    }
    if (node.reviews && node.reviews.length) {
      body.appendChild(heading("Reviews (" + node.reviews.length + ")"));
      node.reviews.forEach(function (rid) { body.appendChild(reviewCard(rid)); });
    }
  }
  /* a review record [RV]: who reviewed what, how, what they found and decided */
  function reviewCard(rid) {
    var card = el("div", "record review");
    var r = reviews[rid];
    if (!r) {
      card.appendChild(el("p", "no", "Cited review " + rid + " is not in the case."));
      return card;
    }
    var head = el("div", "record-head");
    head.appendChild(el("code", "record-key", r.id));
    head.appendChild(badge("status", r.status));
    head.appendChild(document.createTextNode(" " + r.title));
    card.appendChild(head);
    card.appendChild(el("p", null, r.reason));
    var pairs = [["Date", r.date], ["Method", String(r.method).replace(/_/g, " ")],
      ["Decision", String(r.decision).replace(/_/g, " ")],
      ["Reviewers", r.reviewers.map(function (p) {
        return p.name + " (" + p.role + "; " + String(p.independence).replace(/_/g, " ") + ")";
      }).join("; ")]];
    if (r.conditions) pairs.push(["Conditions", r.conditions]);
    r.items.forEach(function (x) { pairs.push(["Item " + x.item, "sha256 " + x.sha256]); });
    r.documents.forEach(function (x) { pairs.push(["Document " + x.file, "sha256 " + x.sha256]); });
    card.appendChild(kv(pairs));
    card.appendChild(el("p", "muted", r.summary));
    if (r.findings.length) {
      var ul = card.appendChild(el("ul"));
      r.findings.forEach(function (f) {
        ul.appendChild(el("li", null, f.id + " (" + f.severity + ", " + f.disposition + "): " + f.text +
          (f.resolution ? " \u2014 " + f.resolution : "")));
      });
    }
    return card;
  }
  function close() {
    panel.hidden = true;
    current = null;
  }

  document.addEventListener("click", function (event) {
    var target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    var reveal_ = target.closest("[data-reveal-view]");
    if (reveal_) {
      reveal(Number(reveal_.getAttribute("data-reveal-view")), reveal_.getAttribute("data-reveal-node"));
      return;
    }
    var tab = target.closest("[data-goto-view]");
    if (tab) { showView(Number(tab.getAttribute("data-goto-view"))); return; }
    var zoom = target.closest("[data-zoom]");
    if (zoom) { zoomButton(zoom.getAttribute("data-zoom")); return; }
    var rest = target.closest("button.show-rest");
    if (rest) { showRest(rest); return; }
    var hit = target.closest("[data-node]");
    if (hit) {
      var id = hit.getAttribute("data-node");
      ready.then(function () { open(id); });
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && current !== null) { close(); return; }
    var target = event.target instanceof Element ? event.target : null;
    if ((event.key === "Enter" || event.key === " ") && target && target.matches("svg [data-node]")) {
      event.preventDefault();
      var id = target.getAttribute("data-node");
      ready.then(function () { open(id); });
    }
  });
  document.getElementById("detail-close").addEventListener("click", close);
  ready.then(function () {
    if (location.hash.indexOf("#node=") === 0) {
      var wanted = decodeURIComponent(location.hash.slice(6));
      if (Object.prototype.hasOwnProperty.call(nodes, wanted)) open(wanted);
    }
    document.body.setAttribute("data-ready", "1");
  });
})();
