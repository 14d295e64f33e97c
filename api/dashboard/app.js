// bounced dashboard: reads /v1/dashboard/* (same origin only) and draws inline
// SVG. No framework, no external fetch. Every chart element carries its values
// in data-* attributes (data-key, data-rate, data-sends, ...) so tests and
// scripts can read what is drawn.
'use strict';
(function () {
  var SVGNS = 'http://www.w3.org/2000/svg';
  var COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
  var RATES = ['bounce_rate', 'hard_rate', 'soft_rate', 'block_rate'];
  var FILTER_KEYS = ['from', 'to', 'range', 'campaign', 'domain', 'bucket'];

  var params = new URLSearchParams(window.location.search);
  var apiParams = new URLSearchParams();
  FILTER_KEYS.forEach(function (k) {
    var v = params.get(k);
    if (v) { apiParams.set(k, v); }
  });
  var cache = {}; // chart id -> last response, for re-drawing with another metric
  var unavailableShown = false;

  // ---- DOM helpers (text only through textContent: no HTML from data) ----

  function el(tag, attrs) {
    var n = document.createElement(tag);
    setAttrs(n, attrs);
    for (var i = 2; i < arguments.length; i++) { append(n, arguments[i]); }
    return n;
  }
  function svg(tag, attrs) {
    var n = document.createElementNS(SVGNS, tag);
    setAttrs(n, attrs);
    for (var i = 2; i < arguments.length; i++) { append(n, arguments[i]); }
    return n;
  }
  function setAttrs(n, attrs) {
    if (!attrs) { return; }
    Object.keys(attrs).forEach(function (k) {
      if (attrs[k] !== undefined && attrs[k] !== null) { n.setAttribute(k, String(attrs[k])); }
    });
  }
  function append(n, c) {
    if (c === undefined || c === null) { return; }
    if (Array.isArray(c)) { c.forEach(function (x) { append(n, x); }); return; }
    n.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
  function pct(x, digits) { return (x * 100).toFixed(digits === undefined ? 2 : digits) + '%'; }
  function num(n) { return Number(n).toLocaleString('en-US'); }
  function fmtTime(s) { return String(s).replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, '').replace(/Z$/, ''); }
  function fmtSecs(s) { return String(s).replace('T', ' ').replace(/(\.\d+)?Z$/, ''); }
  function rateAttr(x) { return Number(x).toFixed(6); }

  // ---- data ----

  function get(path, extra) {
    var q = new URLSearchParams(apiParams);
    Object.keys(extra || {}).forEach(function (k) { q.set(k, extra[k]); });
    return fetch(path + '?' + q.toString(), { headers: { Accept: 'application/json' } }).then(function (resp) {
      return resp.text().then(function (text) {
        var body;
        try { body = JSON.parse(text); } catch (e) { body = { error: 'HTTP ' + resp.status + ': ' + text.slice(0, 200) }; }
        if (!resp.ok) {
          var err = new Error(body.error || ('HTTP ' + resp.status));
          err.status = resp.status;
          throw err;
        }
        showRange(body.filter);
        return body;
      });
    });
  }

  function showRange(f) {
    var label = document.getElementById('range-label');
    if (!f || label.textContent) { return; }
    var parts = ['Sent ' + fmtTime(f.from) + ' to ' + fmtTime(f.to) + ' UTC', (f.bucket === 'day' ? 'daily' : 'hourly') + ' points'];
    if (f.campaign) { parts.push('campaign ' + f.campaign); }
    if (f.domain) { parts.push('domain ' + f.domain); }
    label.textContent = parts.join(' · ');
    label.setAttribute('data-from', f.from);
    label.setAttribute('data-to', f.to);
    label.setAttribute('data-bucket', f.bucket);
  }

  function unavailable(msg) {
    document.body.setAttribute('data-unavailable', 'true');
    if (unavailableShown) { return; }
    unavailableShown = true;
    var box = document.getElementById('status');
    box.replaceChildren(
      el('strong', null, 'ClickHouse is unavailable.'), ' ',
      'The dashboard reads bounced\'s ClickHouse tables and cannot reach them right now; it retries every 30 seconds. ',
      el('span', { class: 'detail' }, msg));
    box.className = 'status error';
    box.hidden = false;
  }

  // panel runs load and shows its failure inside node instead of the content.
  function panel(node, load) {
    return Promise.resolve().then(load).catch(function (e) {
      var status = e && e.status ? e.status : 0;
      if (status === 503) { unavailable(e.message); }
      node.replaceChildren(el('p', { class: 'panel-error', 'data-status': status },
        status === 503 ? 'ClickHouse unavailable: no data.' : 'Could not load: ' + (e && e.message ? e.message : String(e))));
      if (status !== 503 && status !== 400) { node.setAttribute('data-failed', 'true'); }
    });
  }

  // ---- line chart ----

  // niceMax is the y-axis top: the smallest round rate at or above v (at least 1%).
  function niceMax(v) {
    var steps = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1];
    for (var i = 0; i < steps.length; i++) { if (v <= steps[i]) { return steps[i]; } }
    return Math.ceil(v * 10) / 10;
  }

  // lineChart draws lines = [{key, value, sends, bounced, points: [{t, v, sends, bounced}]}]
  // over filter's range into node, with a legend.
  function lineChart(node, filter, lines, metric) {
    node.replaceChildren();
    node.setAttribute('data-metric', metric);
    node.setAttribute('data-lines', String(lines.length));
    if (!lines.length) {
      node.appendChild(el('p', { class: 'empty', 'data-empty': 'true' }, 'No sends in this range.'));
      return;
    }
    var W = 900, H = 260, L = 58, R = 14, T = 10, B = 30;
    var x0 = Date.parse(filter.from), x1 = Date.parse(filter.to);
    var step = filter.bucket === 'day' ? 86400000 : 3600000;
    var top = 0;
    lines.forEach(function (l) { l.points.forEach(function (p) { if (p.v > top) { top = p.v; } }); });
    top = niceMax(top);
    var sx = function (t) { return L + (t - x0) / (x1 - x0) * (W - L - R); };
    var sy = function (v) { return H - B - v / top * (H - T - B); };
    var root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'plot', role: 'img', 'data-ymax': top,
      'aria-label': metric.replace('_', ' ') + ' over send time' });
    var digits = top < 0.05 ? 2 : (top < 0.5 ? 1 : 0);
    for (var i = 0; i <= 4; i++) {
      var v = top * i / 4, y = sy(v);
      root.appendChild(svg('line', { class: 'grid', x1: L, x2: W - R, y1: y, y2: y }));
      root.appendChild(svg('text', { class: 'ylabel', x: L - 6, y: y + 4, 'text-anchor': 'end' }, pct(v, digits)));
    }
    var ticks = 6;
    for (var j = 0; j <= ticks; j++) {
      var t = x0 + (x1 - x0) * j / ticks, x = sx(t);
      var d = new Date(t).toISOString();
      var label = (x1 - x0) > 2 * 86400000 ? d.slice(5, 10) : d.slice(5, 10) + ' ' + d.slice(11, 16);
      root.appendChild(svg('line', { class: 'tick', x1: x, x2: x, y1: H - B, y2: H - B + 4 }));
      root.appendChild(svg('text', { class: 'xlabel', x: x, y: H - B + 17, 'text-anchor': j === 0 ? 'start' : (j === ticks ? 'end' : 'middle') }, label));
    }
    root.appendChild(svg('line', { class: 'axis', x1: L, x2: W - R, y1: H - B, y2: H - B }));
    var legend = el('ul', { class: 'legend' });
    lines.forEach(function (l, i) {
      var color = COLORS[i % COLORS.length];
      var g = svg('g', { class: 'series', 'data-key': l.key, 'data-rate': rateAttr(l.value), 'data-sends': l.sends,
        'data-bounced': l.bounced, 'data-points': l.points.length, stroke: color, fill: color });
      var d = '', prev = null;
      l.points.forEach(function (p) {
        var t = Date.parse(p.t);
        d += (prev === null || t - prev > step ? 'M' : 'L') + sx(t).toFixed(1) + ' ' + sy(p.v).toFixed(1) + ' ';
        prev = t;
      });
      g.appendChild(svg('path', { d: d.trim(), fill: 'none' }));
      l.points.forEach(function (p) {
        var t = Date.parse(p.t);
        g.appendChild(svg('circle', { cx: sx(t).toFixed(1), cy: sy(p.v).toFixed(1), r: 3, 'data-t': p.t, 'data-rate': rateAttr(p.v),
          'data-sends': p.sends, 'data-bounced': p.bounced },
        svg('title', null, l.key + ' ' + fmtTime(p.t) + ': ' + pct(p.v) + ' of ' + num(p.sends) + ' sends')));
      });
      root.appendChild(g);
      var swatch = el('span', { class: 'swatch', 'data-color': color });
      swatch.style.background = color; // CSSOM, which the page's CSP allows (style attributes it does not)
      var item = el('li', { class: 'legend-item', 'data-key': l.key, 'data-rate': rateAttr(l.value), title: 'click to hide or show' },
        swatch, el('span', { class: 'key' }, l.key), ' ',
        el('span', { class: 'value' }, pct(l.value)), ' of ', el('span', { class: 'sends' }, num(l.sends)), ' sends');
      item.addEventListener('click', function () {
        var off = g.getAttribute('visibility') === 'hidden';
        g.setAttribute('visibility', off ? 'visible' : 'hidden');
        item.classList.toggle('off', !off);
      });
      legend.appendChild(item);
    });
    node.appendChild(root);
    node.appendChild(legend);
  }

  function totalsTable(series, by) {
    var rows = series.map(function (s) {
      var t = s.total;
      return el('tr', { 'data-key': s.key, 'data-sends': t.sends, 'data-bounce-rate': rateAttr(t.bounce_rate),
        'data-hard-rate': rateAttr(t.hard_rate), 'data-soft-rate': rateAttr(t.soft_rate), 'data-block-rate': rateAttr(t.block_rate) },
      el('td', null, s.key || '(none)'), el('td', { class: 'n' }, num(t.sends)), el('td', { class: 'n' }, num(t.bounced)),
      el('td', { class: 'n bounce' }, pct(t.bounce_rate)), el('td', { class: 'n' }, pct(t.hard_rate)),
      el('td', { class: 'n' }, pct(t.soft_rate)), el('td', { class: 'n' }, pct(t.block_rate)));
    });
    return el('table', { class: 'totals' },
      el('thead', null, el('tr', null, [by, 'sends', 'bounced', 'bounce', 'hard', 'soft', 'block'].map(function (h) { return el('th', null, h); }))),
      el('tbody', null, rows));
  }

  function drawRates(id) {
    var node = document.getElementById(id);
    var resp = cache[id];
    if (!resp) { return; }
    var sel = document.querySelector('select.metric[data-chart="' + id + '"]');
    var metric = sel ? sel.value : 'bounce_rate';
    var series = resp.data.series;
    var lines = series.map(function (s) {
      return { key: s.key, value: s.total[metric], sends: s.total.sends, bounced: s.total.bounced,
        points: s.points.map(function (p) { return { t: p.t, v: p[metric], sends: p.sends, bounced: p.bounced }; }) };
    });
    lineChart(node, resp.filter, lines, metric);
    node.setAttribute('data-source', resp.data.source);
    if (series.length) { node.appendChild(totalsTable(series, { campaign: 'campaign', domain: 'recipient domain', ip: 'sending IP' }[resp.data.by] || '')); }
    if (resp.data.ignored && resp.data.ignored.length) {
      node.appendChild(el('p', { class: 'note' }, 'Not filtered by ' + resp.data.ignored.join(' and ') + ' (' + resp.data.source + ' has no such column).'));
    }
  }

  function loadRates(id, by) {
    return get('/v1/dashboard/rates', { by: by }).then(function (resp) {
      cache[id] = resp;
      drawRates(id);
    });
  }

  function loadOverview() {
    var node = document.getElementById('chart-total');
    var kpis = document.getElementById('kpis');
    return get('/v1/dashboard/rates', { by: 'send_hour' }).then(function (resp) {
      var s = resp.data.series[0];
      var t = s ? s.total : { sends: 0, delivered: 0, bounced: 0, bounce_rate: 0, hard_rate: 0, soft_rate: 0, block_rate: 0 };
      var tiles = [
        ['sends', 'Sends', t.sends, num(t.sends)], ['delivered', 'Delivered', t.delivered, num(t.delivered)],
        ['bounced', 'Bounced', t.bounced, num(t.bounced)], ['bounce_rate', 'Bounce rate', rateAttr(t.bounce_rate), pct(t.bounce_rate)],
        ['hard_rate', 'Hard rate', rateAttr(t.hard_rate), pct(t.hard_rate)], ['soft_rate', 'Soft rate', rateAttr(t.soft_rate), pct(t.soft_rate)],
        ['block_rate', 'Block rate', rateAttr(t.block_rate), pct(t.block_rate)]];
      kpis.replaceChildren.apply(kpis, tiles.map(function (k) {
        var warn = (k[0] === 'bounce_rate' && t.bounce_rate > 0.05) || (k[0] === 'hard_rate' && t.hard_rate > 0.01) ? ' critical'
          : (k[0] === 'bounce_rate' && t.bounce_rate > 0.02 ? ' warning' : '');
        return el('div', { class: 'kpi' + warn, 'data-kpi': k[0], 'data-value': k[2] },
          el('div', { class: 'kpi-label' }, k[1]), el('div', { class: 'kpi-value' }, k[3]));
      }));
      var lines = s ? RATES.map(function (m) {
        return { key: m.replace('_rate', ''), value: s.total[m], sends: s.total.sends, bounced: s.total.bounced,
          points: s.points.map(function (p) { return { t: p.t, v: p[m], sends: p.sends, bounced: p.bounced }; }) };
      }) : [];
      lineChart(node, resp.filter, lines, 'rates');
      node.setAttribute('data-source', resp.data.source);
    });
  }

  // ---- reasons, alerts, suppressions ----

  function loadReasons() {
    var node = document.getElementById('reasons');
    return get('/v1/dashboard/reasons', { limit: '15' }).then(function (resp) {
      var rs = resp.data.reasons;
      if (!rs.length) {
        node.replaceChildren(el('p', { class: 'empty', 'data-empty': 'true' }, 'Nothing undelivered in this range.'));
        return;
      }
      var most = rs[0].attempts || 1;
      var total = rs.reduce(function (a, r) { return a + r.attempts; }, 0);
      var rows = rs.map(function (r) {
        var w = Math.max(1, Math.round(r.attempts / most * 120));
        return el('tr', { class: 'reason', 'data-class': r.class, 'data-label': r.label, 'data-rule': r.rule, 'data-attempts': r.attempts,
          'data-bounced': r.bounced, 'data-deferred': r.deferred },
        el('td', null, el('span', { class: 'cls cls-' + (r.class || 'none') }, r.class || '(unclassified)'), ' ', r.label || ''),
        el('td', { class: 'rule' }, r.rule),
        el('td', null, r.code ? r.code + (r.enhanced ? ' ' + r.enhanced : '') : (r.enhanced || '')),
        el('td', { class: 'n' }, num(r.attempts)),
        el('td', { class: 'bar' }, svg('svg', { width: 124, height: 12, class: 'hbar' },
          svg('rect', { x: 0, y: 1, width: w, height: 10, 'data-share': rateAttr(r.attempts / total) }))),
        el('td', { class: 'n' }, num(r.bounced)), el('td', { class: 'n' }, num(r.deferred)));
      });
      node.replaceChildren(el('table', { class: 'reasons' },
        el('thead', null, el('tr', null, ['verdict', 'rule', 'example reply', 'attempts', '', 'ended send', 'deferred'].map(function (h) { return el('th', null, h); }))),
        el('tbody', null, rows)));
    });
  }

  function fmtValue(v, threshold) { return threshold <= 1 && v <= 1 ? pct(v) : num(v); }

  function loadAlerts() {
    var node = document.getElementById('alerts');
    return get('/v1/dashboard/alerts').then(function (resp) {
      var as = resp.data.alerts;
      if (!as.length) {
        node.replaceChildren(el('p', { class: 'empty', 'data-empty': 'true', 'data-missing': resp.data.missing ? 'true' : 'false' },
          resp.data.missing ? 'No alerts (the alerts table does not exist yet).' : 'No alerts.'));
        return;
      }
      var rows = as.map(function (a) {
        return el('tr', { class: 'alert ' + a.state + ' sev-' + a.severity, 'data-rule': a.rule, 'data-scope': a.scope, 'data-subject': a.subject,
          'data-severity': a.severity, 'data-state': a.state, 'data-value': rateAttr(a.value) },
        el('td', null, el('span', { class: 'badge sev-' + a.severity }, a.severity)), el('td', null, a.state),
        el('td', null, a.scope + ' ', el('strong', null, a.subject)), el('td', { class: 'rule' }, a.rule),
        el('td', { class: 'n' }, fmtValue(a.value, a.threshold) + ' (limit ' + fmtValue(a.threshold, a.threshold) + ')'),
        el('td', { class: 'n' }, num(a.volume)), el('td', null, fmtTime(a.at)), el('td', { class: 'msg' }, a.message));
      });
      var firing = as.filter(function (a) { return a.state === 'firing'; }).length;
      node.replaceChildren(el('p', { class: 'summary', 'data-firing': firing }, firing + ' firing, ' + (as.length - firing) + ' resolved'),
        el('table', { class: 'alerts' },
          el('thead', null, el('tr', null, ['severity', 'state', 'subject', 'rule', 'value', 'volume', 'at (UTC)', 'message'].map(function (h) { return el('th', null, h); }))),
          el('tbody', null, rows)));
    });
  }

  function loadSuppressions() {
    var node = document.getElementById('suppressions');
    return get('/v1/dashboard/suppressions', { limit: '50' }).then(function (resp) {
      var d = resp.data;
      var classes = Object.keys(d.by_class).sort(function (a, b) { return d.by_class[b] - d.by_class[a]; });
      var summary = el('p', { class: 'summary', 'data-total': d.total },
        num(d.total) + ' current suppression' + (d.total === 1 ? '' : 's') + ' updated in range' +
        (classes.length ? ': ' + classes.map(function (c) { return (c || '(none)') + ' ' + num(d.by_class[c]); }).join(', ') : ''));
      if (!d.recent.length) {
        node.replaceChildren(summary, el('p', { class: 'empty', 'data-empty': 'true' }, 'No suppressions in this range.'));
        return;
      }
      var rows = d.recent.map(function (s) {
        return el('tr', { class: 'suppression', 'data-address': s.address, 'data-class': s.class, 'data-label': s.label },
          el('td', null, fmtTime(s.updated_at)), el('td', { class: 'addr' }, s.address),
          el('td', null, el('span', { class: 'cls cls-' + (s.class || 'none') }, s.class), ' ', s.label),
          el('td', { class: 'reason-text' }, s.reason), el('td', null, s.source + (s.status !== 'suppressed' ? ' (' + s.status + ')' : '')));
      });
      node.replaceChildren(summary, el('table', { class: 'suppressions' },
        el('thead', null, el('tr', null, ['updated (UTC)', 'address', 'verdict', 'reason', 'source'].map(function (h) { return el('th', null, h); }))),
        el('tbody', null, rows)));
    });
  }

  function loadChoices() {
    return get('/v1/dashboard/filters').then(function (resp) {
      [['campaigns', resp.data.campaigns], ['domains', resp.data.domains]].forEach(function (p) {
        var list = document.getElementById(p[0]);
        list.replaceChildren.apply(list, p[1].map(function (v) { return el('option', { value: v }); }));
      });
    }).catch(function () { /* suggestions only: the panels report the failure */ });
  }

  // ---- address lookup ----

  // fetchJSON gets path (no dashboard filter: an address's history is not
  // bounded by the range) and throws the server's error with its status.
  function fetchJSON(path) {
    return fetch(path, { headers: { Accept: 'application/json' } }).then(function (resp) {
      return resp.text().then(function (text) {
        var body;
        try { body = JSON.parse(text); } catch (e) { body = { error: 'HTTP ' + resp.status + ': ' + text.slice(0, 200) }; }
        if (!resp.ok) {
          var err = new Error(body.error || ('HTTP ' + resp.status));
          err.status = resp.status;
          throw err;
        }
        return body;
      });
    });
  }

  function historyPath(address, before) {
    var q = new URLSearchParams({ limit: '50' });
    if (before) { q.set('before', before); }
    return '/v1/addresses/' + encodeURIComponent(address) + '?' + q.toString();
  }

  function fact(dl, name, value) {
    if (value === undefined || value === null || value === '') { return; }
    append(dl, [el('dt', null, name), el('dd', null, value)]);
  }

  function suppressionBlock(s) {
    if (!s) {
      return el('p', { class: 'note', 'data-suppression': 'none' }, 'Not on the suppression list.');
    }
    var dl = el('dl', { class: 'facts suppression-record', 'data-status': s.status, 'data-class': s.class, 'data-label': s.label });
    fact(dl, 'suppression', el('span', { class: 'badge status-' + s.status }, s.status));
    fact(dl, 'verdict', (s.class || '') + ' / ' + (s.label || ''));
    fact(dl, 'reason', el('span', { class: 'reason-text' }, s.reason));
    fact(dl, 'rule', s.rule);
    fact(dl, 'source', s.source);
    fact(dl, 'since (UTC)', s.since ? fmtTime(s.since) : '');
    fact(dl, 'expires (UTC)', s.expires_at ? fmtTime(s.expires_at) : '');
    fact(dl, 'soft streak', s.soft_streak ? String(s.soft_streak) : '');
    (s.evidence || []).forEach(function (ev) {
      fact(dl, 'evidence', [fmtSecs(ev.at), ' ', ev.outcome || '', ' ', ev.code ? String(ev.code) : '', ' ', ev.enhanced || '', ' ', ev.text || '']);
    });
    return dl;
  }

  function stateBlock(st, note) {
    if (!st) {
      return el('p', { class: 'note', 'data-state-found': 'false' }, 'Streak state: none' + (note ? ' (' + note + ')' : '') + '.');
    }
    var dl = el('dl', { class: 'facts streak-state', 'data-soft-streak': st.soft_streak, 'data-last-applied': st.last_applied_offset });
    fact(dl, 'soft streak', String(st.soft_streak) + (st.window_start ? ' since ' + fmtTime(st.window_start) + ' UTC' : ''));
    fact(dl, 'marked', st.status ? st.status + ' (' + (st.class || '') + ' / ' + (st.label || '') + ')' + (st.since ? ' since ' + fmtTime(st.since) : '') : '');
    fact(dl, 'expires (UTC)', st.expires_at ? fmtTime(st.expires_at) : '');
    fact(dl, 'last delivery (UTC)', st.last_delivery ? fmtTime(st.last_delivery) : '');
    fact(dl, 'last applied event', 'attempts partition ' + st.partition + ', offset ' + st.last_applied_offset);
    return dl;
  }

  function attemptRow(a) {
    var verdict = a.class ? [el('span', { class: 'cls cls-' + a.class }, a.class), ' ', a.label] : '';
    return el('tr', { class: 'attempt outcome-' + a.outcome, 'data-event-id': a.event_id, 'data-outcome': a.outcome },
      el('td', { class: 'n' }, fmtSecs(a.occurred_at)), el('td', { class: 'n' }, fmtSecs(a.sent_at)),
      el('td', { class: 'outcome' }, a.outcome), el('td', null, (a.smtp_code ? String(a.smtp_code) : '') + ' ' + (a.smtp_enhanced || '')),
      el('td', { class: 'reply' }, a.text), el('td', null, verdict), el('td', { class: 'rule' }, a.rule),
      el('td', null, a.campaign), el('td', { class: 'addr' }, a.message_id), el('td', null, a.source_kind + ' ' + a.source_host));
  }

  // showHistory draws a lookup's first page; "more" appends older pages.
  function showHistory(node, d) {
    var tbody = el('tbody', null, d.attempts.map(attemptRow));
    var parts = [el('h3', { class: 'history-address', 'data-address': d.address }, d.address),
      suppressionBlock(d.suppression), stateBlock(d.state, d.state_note)];
    if (!d.attempts.length) {
      parts.push(el('p', { class: 'empty', 'data-empty': 'true' }, 'No attempts.'));
      node.replaceChildren.apply(node, parts);
      return;
    }
    parts.push(el('table', { class: 'attempts' },
      el('thead', null, el('tr', null, ['occurred (UTC)', 'sent (UTC)', 'outcome', 'code', 'reply', 'verdict', 'rule', 'campaign', 'message id', 'source'].map(function (h) { return el('th', null, h); }))),
      tbody));
    var more = el('button', { type: 'button', class: 'more' }, 'more');
    var setNext = function (next) {
      if (next) { more.setAttribute('data-next', next); more.hidden = false; } else { more.removeAttribute('data-next'); more.hidden = true; }
    };
    setNext(d.next);
    more.addEventListener('click', function () {
      more.disabled = true;
      fetchJSON(historyPath(d.address, more.getAttribute('data-next'))).then(function (page) {
        append(tbody, page.attempts.map(attemptRow));
        setNext(page.next);
      }).catch(function (e) {
        node.appendChild(el('p', { class: 'panel-error' }, 'Could not load more: ' + (e && e.message ? e.message : String(e))));
      }).then(function () { more.disabled = false; });
    });
    parts.push(more);
    node.replaceChildren.apply(node, parts);
  }

  function lookup(address) {
    var node = document.getElementById('history');
    node.replaceChildren(el('p', { class: 'note' }, 'Looking up ' + address + '…'));
    return fetchJSON(historyPath(address, '')).then(function (d) { showHistory(node, d); }).catch(function (e) {
      var status = e && e.status ? e.status : 0;
      node.replaceChildren(el('p', { class: 'panel-error', 'data-status': status },
        (status === 503 ? 'Unavailable: ' : 'Could not look up ' + address + ': ') + (e && e.message ? e.message : String(e))));
    });
  }

  function setupLookup() {
    var form = document.getElementById('lookup');
    var input = document.getElementById('l-address');
    input.value = params.get('address') || '';
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var address = input.value.trim();
      if (!address) { return; }
      // In the URL, so that a lookup can be linked and survives a reload.
      var q = new URLSearchParams(window.location.search);
      q.set('address', address);
      window.history.replaceState(null, '', '/dashboard?' + q.toString());
      lookup(address);
    });
    return input.value.trim() ? lookup(input.value.trim()) : Promise.resolve();
  }

  // ---- filter form ----

  function fillForm() {
    var form = document.getElementById('filters');
    var local = function (s) { return s && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(s) ? s.slice(0, 16) : (s || ''); };
    document.getElementById('f-from').value = local(params.get('from'));
    document.getElementById('f-to').value = local(params.get('to'));
    document.getElementById('f-campaign').value = params.get('campaign') || '';
    document.getElementById('f-domain').value = params.get('domain') || '';
    document.getElementById('f-bucket').value = params.get('bucket') || '';
    var range = params.has('range') ? params.get('range') : (params.has('from') ? '' : '7d');
    var sel = document.getElementById('f-range');
    if (!Array.prototype.some.call(sel.options, function (o) { return o.value === range; })) {
      sel.appendChild(el('option', { value: range }, 'last ' + range));
    }
    sel.value = range;
    form.addEventListener('submit', function () {
      // A preset range ignores from/to; empty fields stay out of the URL.
      Array.prototype.forEach.call(form.elements, function (f) {
        if (!f.name) { return; }
        if ((sel.value && (f.name === 'from' || f.name === 'to')) || !f.value) { f.disabled = true; }
      });
    });
    document.querySelectorAll('select.metric').forEach(function (s) {
      s.addEventListener('change', function () { drawRates(s.getAttribute('data-chart')); });
    });
  }

  function main() {
    fillForm();
    var loads = [
      panel(document.getElementById('chart-total'), loadOverview),
      panel(document.getElementById('chart-campaign'), function () { return loadRates('chart-campaign', 'campaign'); }),
      panel(document.getElementById('chart-domain'), function () { return loadRates('chart-domain', 'domain'); }),
      panel(document.getElementById('chart-ip'), function () { return loadRates('chart-ip', 'ip'); }),
      panel(document.getElementById('reasons'), loadReasons),
      panel(document.getElementById('alerts'), loadAlerts),
      panel(document.getElementById('suppressions'), loadSuppressions),
      loadChoices(),
      setupLookup()
    ];
    Promise.all(loads).then(function () {
      var down = document.body.getAttribute('data-unavailable') === 'true';
      document.body.setAttribute('data-state', down ? 'unavailable' : 'ready');
      if (down) { window.setTimeout(function () { window.location.reload(); }, 30000); }
    });
  }

  main();
})();
