// The marking page's keyboard shortcuts and its evidence panel (the page works without this).
//   j / k        next / previous criterion       s / n   satisfactory / not yet satisfactory
//   Ctrl+Enter   save the criterion              e       its first mapped evidence in the panel
//   p            go to the evidence panel
(function () {
  "use strict";

  var current = null;
  // A key pressed on a folded criterion before its form has loaded: {id, action}.
  var pending = null;

  function criteria() {
    return Array.prototype.slice.call(document.querySelectorAll("article.criterion"));
  }

  function setCurrent(article) {
    if (current) current.classList.remove("current");
    current = article;
    if (current) current.classList.add("current");
  }

  function currentCriterion() {
    var active = document.activeElement;
    var inside = active && active.closest ? active.closest("article.criterion") : null;
    if (inside) setCurrent(inside);
    if (current && !document.body.contains(current)) {
      current = document.getElementById(current.id);
    }
    return current;
  }

  function focusCriterion(article) {
    if (!article) return;
    setCurrent(article);
    var details = article.querySelector("details");
    // (Not the "judged" class: htmx restores an element's new classes only after settling.)
    if (!article.dataset.verdict) details.open = true;
    var summary = article.querySelector("summary");
    summary.focus();
    article.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = criteria();
    var here = currentCriterion();
    var active = document.activeElement;
    // Coming back from elsewhere (the evidence panel): j or k returns to the criterion first.
    if (here && !here.contains(active)) {
      focusCriterion(here);
      return;
    }
    var at = all.indexOf(here);
    var next = at === -1 ? (step > 0 ? 0 : all.length - 1) : at + step;
    if (next >= 0 && next < all.length) focusCriterion(all[next]);
  }

  // A folded criterion not loaded yet is opened, which loads it, and ``action`` waits for
  // it (htmx:afterSettle below); so does one just loaded that htmx has not yet set up
  // ("htmx-added"), whose form would be posted without htmx. False once it is ready.
  function loadFirst(article, action) {
    var folded = article.querySelector("details[hx-get]");
    if (!folded && !article.classList.contains("htmx-added")) return false;
    article.querySelector("details").open = true;
    pending = { id: article.id, action: action };
    return true;
  }

  function verdict(value) {
    var article = currentCriterion();
    if (!article || loadFirst(article, function () { verdict(value); })) return;
    var radio = article.querySelector('input[type="radio"][value="' + value + '"]');
    if (!radio) return;
    article.querySelector("details").open = true;
    radio.checked = true;
    radio.focus();
  }

  function save() {
    var article = currentCriterion();
    if (!article || loadFirst(article, save)) return;
    var form = article.querySelector("form.judgement-form");
    if (form) form.requestSubmit();
  }

  function showEvidence() {
    var article = currentCriterion();
    if (!article || loadFirst(article, showEvidence)) return;
    var link = article.querySelector("a.evidence-link");
    if (link) link.click();
  }

  function typing(target) {
    if (target.isContentEditable) return true;
    var tag = target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") return true;
    return tag === "INPUT" && !/^(checkbox|radio|submit|button)$/.test(target.type);
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      if (currentCriterion()) {
        event.preventDefault();
        save();
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var actions = {
      j: function () { move(1); },
      k: function () { move(-1); },
      s: function () { verdict("satisfactory"); },
      n: function () { verdict("not_yet"); },
      e: showEvidence,
      p: function () { document.getElementById("evidence-panel").focus(); },
    };
    var action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  });

  document.addEventListener("focusin", function (event) {
    var article = event.target.closest && event.target.closest("article.criterion");
    if (article) setCurrent(article);
  });

  // A saved criterion comes back folded: keep the keyboard on it, so j goes on from here.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (target.id === "evidence-panel") {
      // A decision made in the panel replaced the button that had the focus.
      if (document.activeElement === document.body) target.focus();
      return;
    }
    var article = target.id ? document.getElementById(target.id) : null;
    if (!article || !article.matches("article.criterion")) return;
    if (event.detail.requestConfig.verb === "get") return;  // opened: see afterSettle
    // Saved and judged, it folds; the next criterion still to judge unfolds, ready.
    if (article.dataset.verdict) {
      var all = criteria();
      var next = all.slice(all.indexOf(article) + 1).filter(function (a) {
        return !a.dataset.verdict;
      })[0];
      if (next) next.querySelector("details").open = true;
    }
    focusCriterion(article);
  });

  // A criterion has come (opened, or saved) and htmx has set up its form: an opened one
  // keeps the keyboard (unless it has moved on), and a key pressed meanwhile acts now.
  document.body.addEventListener("htmx:afterSettle", function (event) {
    var article = event.target;
    if (!article.matches || !article.matches("article.criterion")) return;
    var opened = event.detail.requestConfig.verb === "get";
    if (opened && document.activeElement === document.body) focusCriterion(article);
    if (!pending || pending.id !== article.id) return;
    var action = pending.action;
    pending = null;
    if (currentCriterion() === article) action();
  });

  // A mapping confirmed in the panel ticks its range items on an unjudged criterion.
  document.body.addEventListener("htmx:oobAfterSwap", function (event) {
    var list = event.detail.target;
    if (!list.classList || !list.classList.contains("mapped-evidence")) return;
    var article = list.closest("article.criterion");
    if (!article || article.dataset.verdict) return;
    (list.dataset.confirmedItems || "").split(" ").forEach(function (pk) {
      if (!pk) return;
      var box = article.querySelector('input[name$="-range_items"][value="' + pk + '"]');
      if (box) box.checked = true;
    });
  });
})();
