/**
 * `msm proxy --profile NAME` (docs/profiles.md): one MCP session in front of several targets. Each target keeps its
 * own session — the discovery cache in front of its own bridge, so its own shared daemon, cache, tool rules and
 * recovery, exactly as `msm proxy --target NAME` — and this module routes between them and the editor:
 *
 * - the editor's requests go to the one target they belong to (a tool or prompt by its `target__name`, a resource by
 *   its URI, a completion by its ref), under ids of the profile's own, and the answer comes back under the editor's
 *   id; cancellations follow the request they cancel;
 * - lists, `initialize` and `server/discover` go to every target and are merged (proxy/profile/merge.ts), waiting
 *   for a slow target only so long: what came late is announced with `list_changed`;
 * - a target's own requests (sampling, elicitation, roots/list, ping) reach the editor under ids of the profile's,
 *   and the editor's answer goes back to that target under the target's id;
 * - a target that fails (proxy/profile/link.ts) has its tools, prompts and resources left out until it answers
 *   again, with a `list_changed` each way.
 *
 * Loaded only by `msm proxy --profile` (tests/unit/lazy-proxy.test.ts): a plain target's proxy never pays for it.
 */
import { canonicalJson } from "../lib/canonical-json.ts";
import { LIST_CHANGED } from "../lib/discovery-cache.ts";
import { errorResponse, isRequest, UPSTREAM_ERROR, type JsonRpcId, type JsonRpcMessage } from "../lib/jsonrpc/messages.ts";
import type { Profile } from "../lib/profiles.ts";
import { decide, emptyRules, filterList, hiddenAnswer, INVALID_PARAMS, parseRuleSet, RULE_KINDS, type RuleKind, type TargetRules } from "../lib/tool-rules.ts";
import type { SearchableTool } from "../lib/tool-search.ts";
import type { CloseOptions, Log } from "./bridge.ts";
import type { Session } from "./discovery.ts";
import { sessionRules } from "./rules.ts";
import { TargetLink } from "./profile/link.ts";
import {
  joinPages,
  LIST_SHAPES,
  mergeDiscover,
  mergeInitialize,
  mergeLists,
  type ListMethod,
  type ProfileFacts,
  type TargetAnswer,
  type TargetList,
} from "./profile/merge.ts";
import { NameTable } from "./profile/names.ts";
import { CALL_TOOL, FIND_TOOLS, findArguments, SearchIndex, searchTools, textResult } from "./profile/search.ts";

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => !!v && typeof v === "object" && !Array.isArray(v);

/**
 * How long the profile's `initialize` waits for its targets (longer only while none has answered): a target that
 * takes longer (a first `npx -y` download, a hung server) joins the session later, announced with `list_changed`.
 */
export const INITIALIZE_WAIT_MS = 10_000;
/** How long a list waits for a target; one that did not answer in time is not waited for again until it answers. */
export const LIST_WAIT_MS = 5_000;
/** Pages of one target's list followed before the profile gives up on the rest (as the discovery cache does). */
const MAX_PAGES = 100;

export interface ProfileSessionOptions {
  profile: Profile;
  /** config.json, named in the answers to requests the profile's rules refuse. */
  configFile: string;
  project: string | undefined;
  /** To the editor: the only way out. */
  write: (message: JsonRpcMessage) => void;
  /** Opens one target's session, as `msm proxy --target NAME` would (proxy/index.ts); messages go to `write`. */
  openTarget: (target: string, write: (message: JsonRpcMessage) => void, log: Log) => Promise<Session>;
  log: Log;
}

/** What one editor request that is still owed an answer went out as. */
interface Owed {
  sent: { link: TargetLink; id: JsonRpcId }[];
  cancelled: boolean;
}

export function openProfile(options: ProfileSessionOptions): Session {
  return new ProfileSession(options);
}

class ProfileSession implements Session {
  private readonly links: TargetLink[];
  private readonly facts: ProfileFacts;
  private readonly search: boolean;
  private readonly rules: TargetRules;
  private readonly tools: NameTable;
  private readonly prompts: NameTable;
  private readonly owed = new Map<JsonRpcId, Owed>();
  /** A target's request the editor was asked under the profile's id → the target and its own id. */
  private readonly asked = new Map<JsonRpcId, { link: TargetLink; id: JsonRpcId; token?: string }>();
  /** The same, the other way: `<target index>\0<its id>` → the profile's id. */
  private readonly askedBack = new Map<string, JsonRpcId>();
  /** Progress tokens of targets' requests → the target and its own token (two targets may pick the same one). */
  private readonly tokens = new Map<string, { link: TargetLink; token: unknown }>();
  private counter = 0;
  /** Per list: what the editor was last given from each target (see visible()). */
  private readonly shown = new Map<ListMethod, Map<TargetLink, number | string>>();
  /** Kinds announced with list_changed since the editor last listed them: one announcement until it asks again. */
  private readonly announced = new Set<string>();
  /** Lists an answer to the editor is being gathered for right now (not announced meanwhile). */
  private readonly answering = new Map<ListMethod, number>();
  private readonly subscriptions = new Map<string, TargetLink>();
  /** Tasks (2025-11-25) by id → the target whose call started them. */
  private readonly tasks = new Map<string, TargetLink>();
  private readonly index = new SearchIndex();
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly options: ProfileSessionOptions) {
    const { profile, log, project } = options;
    this.facts = { name: profile.name, mode: profile.mode, targets: profile.targets };
    this.search = profile.mode === "search";
    this.rules = profileRules(profile, options.configFile);
    this.tools = new NameTable(profile.targets, profile.separator);
    this.prompts = new NameTable(profile.targets, profile.separator);
    this.links = profile.targets.map((target, index) => {
      const own = prefixed(log, target);
      return new TargetLink({
        target,
        index,
        open: (write) => options.openTarget(target, write, own),
        rules: sessionRules(target, project, own),
        log: own,
        onMessage: (link, message) => this.fromTarget(link, message),
        onState: () => this.announce(),
      });
    });
    // Connect at once, while the editor is still writing its initialize (each target as its own proxy would).
    for (const link of this.links) link.start();
  }

  send(message: JsonRpcMessage): void {
    if (message.method === undefined) return this.answerFromEditor(message);
    if (!isRequest(message)) return this.notificationFromEditor(message);
    this.owed.set(message.id, { sent: [], cancelled: false });
    const run = this.route(message as JsonRpcMessage & { id: JsonRpcId; method: string });
    if (run) run.catch((error: unknown) => this.replyError(message.id, UPSTREAM_ERROR, `msm: ${error instanceof Error ? error.message : String(error)}`));
  }

  private route(message: JsonRpcMessage & { id: JsonRpcId; method: string }): Promise<void> | undefined {
    switch (message.method) {
      case "initialize":
        return this.onInitialize(message);
      case "server/discover":
        return this.onDiscover(message);
      case "ping":
        // Answered here, as a server answers it: the profile is alive whatever its targets are doing.
        this.reply(message.id, {});
        return;
      case "tools/list":
        if (this.search) {
          this.reply(message.id, { tools: searchTools(this.facts.targets) });
          return;
        }
        return this.onList(message);
      case "prompts/list":
      case "resources/list":
      case "resources/templates/list":
        return this.onList(message);
      case "tools/call":
        return this.onCall(message);
      case "prompts/get":
        return this.onPrompt(message);
      case "resources/read":
      case "resources/subscribe":
      case "resources/unsubscribe":
        return this.onResource(message);
      case "completion/complete":
        return this.onComplete(message);
      case "tasks/get":
      case "tasks/result":
      case "tasks/cancel":
      case "tasks/update": {
        // A task lives on the target whose call started it.
        const taskId = isObject(message.params) ? message.params.taskId : undefined;
        const owner = typeof taskId === "string" ? this.tasks.get(taskId) : undefined;
        if (!owner) return this.broadcast(message);
        this.forward(message.id, owner, message.method, message.params as Json | undefined);
        return;
      }
      default:
        // logging/setLevel goes to every target; so does a method the profile does not know (the first success wins).
        return this.broadcast(message);
    }
  }

  // -- initialize ---------------------------------------------------------------------------------------------

  private async onInitialize(message: JsonRpcMessage & { id: JsonRpcId }): Promise<void> {
    const answers = await within(
      this.links.map((link) => link.open(message)),
      INITIALIZE_WAIT_MS,
      true,
    );
    const ok = this.answered(answers);
    if (ok.length) {
      const requested = isObject(message.params) ? message.params.protocolVersion : undefined;
      this.reply(message.id, mergeInitialize(this.facts, requested, ok));
      return;
    }
    this.passFirstError(message.id, answers, "initialize");
  }

  /** The 2026-07-28 revision's opening (no initialize): every target must speak it, or the editor falls back. */
  private async onDiscover(message: JsonRpcMessage & { id: JsonRpcId; method: string }): Promise<void> {
    const answers = await within(
      this.links.map((link) => link.discover(message)),
      INITIALIZE_WAIT_MS,
      true,
    );
    const ok = this.answered(answers);
    if (ok.length === this.links.length) this.reply(message.id, mergeDiscover(this.facts, ok));
    else this.passFirstError(message.id, answers, message.method);
  }

  private answered(answers: (JsonRpcMessage | undefined)[]): TargetAnswer[] {
    const ok: TargetAnswer[] = [];
    answers.forEach((answer, i) => {
      if (answer && isObject(answer.result)) ok.push({ target: this.links[i]!.target, result: answer.result });
    });
    return ok;
  }

  /** None of the targets gave a result: the first error (a profile of one target passes its target's own). */
  private passFirstError(id: JsonRpcId, answers: (JsonRpcMessage | undefined)[], method: string): void {
    const first = answers.find((answer) => answer && "error" in answer);
    if (first) this.pass(id, first);
    else this.replyError(id, UPSTREAM_ERROR, `msm: no target of profile "${this.facts.name}" answered ${method}`);
  }

  // -- lists --------------------------------------------------------------------------------------------------

  private async onList(message: JsonRpcMessage & { id: JsonRpcId; method: string }): Promise<void> {
    const method = message.method as ListMethod;
    const params = isObject(message.params) ? message.params : {};
    const shape = LIST_SHAPES[method];
    // Every target's whole list is given on one page, so the profile never hands out a cursor of its own.
    if (typeof params.cursor === "string") {
      this.reply(message.id, { [shape.array]: [] });
      return;
    }
    // While the editor's own request is being answered, what changed in that list is news the answer itself brings.
    this.answering.set(method, (this.answering.get(method) ?? 0) + 1);
    let collected: Awaited<ReturnType<ProfileSession["collect"]>>;
    try {
      collected = await this.collect(method, params);
    } finally {
      this.answering.set(method, this.answering.get(method)! - 1);
    }
    const { parts, errors } = collected;
    if (!parts.length && errors.length) {
      this.pass(message.id, errors[0]!);
      return;
    }
    const merged = mergeLists(method, parts, (target, entry) => this.shownEntry(method, target, entry));
    const filtered = filterList(this.rules, method, merged).result as Json;
    this.remember(method);
    this.reply(message.id, filtered);
  }

  /** An entry as the editor sees it: tools and prompts under their profile names. */
  private shownEntry(method: ListMethod, target: string, entry: Json): Json | undefined {
    const table = method === "tools/list" ? this.tools : method === "prompts/list" ? this.prompts : undefined;
    if (!table) return entry;
    const name = typeof entry.name === "string" ? table.add(target, entry.name) : undefined;
    if (name === undefined) {
      this.options.log.debug(`${target}: ${String(entry.name)} left out (its profile name is taken)`);
      return undefined;
    }
    return { ...entry, name };
  }

  /**
   * Asks every working target that offers the list (all of them when none says it does, so a lone target's own
   * error still reaches the editor) for every page, and waits up to LIST_WAIT_MS. A target that did not answer in
   * time is given with what it listed last, and its answer, when it comes, is announced if it changed anything.
   */
  private async collect(method: ListMethod, params: Json): Promise<{ parts: { target: string; list: TargetList }[]; errors: JsonRpcMessage[] }> {
    const { cursor: _, ...rest } = params;
    const kind = LIST_SHAPES[method].kind;
    const up = this.links.filter((link) => link.state === "up");
    const capable = up.filter((link) => declares(link, kind));
    const asked = capable.length ? capable : up;
    const waited = asked.filter((link) => !link.slow);
    const fetches = new Map(asked.map((link) => [link, this.fetchList(link, method, rest)]));
    const results = await within(
      waited.map((link) => fetches.get(link)!),
      LIST_WAIT_MS,
      false,
    );
    waited.forEach((link, i) => {
      if (results[i] === undefined) {
        link.slow = true;
        this.options.log.warn(`target ${link.target} did not answer ${method} within ${LIST_WAIT_MS / 1000} s: answered without it, announced when it does`);
      }
    });
    const parts: { target: string; list: TargetList }[] = [];
    const errors: JsonRpcMessage[] = [];
    for (const link of asked) {
      const i = waited.indexOf(link);
      const result = i >= 0 ? results[i] : undefined;
      if (result && "error" in result) errors.push(result.error);
      else if (result) parts.push({ target: link.target, list: result.list });
      else {
        const known = link.lists.get(method);
        if (known) parts.push({ target: link.target, list: known.list });
      }
    }
    return { parts, errors };
  }

  /** Every page of one target's list, learned for routing; an error answer as it came. */
  private async fetchList(link: TargetLink, method: ListMethod, params: Json): Promise<{ list: TargetList } | { error: JsonRpcMessage }> {
    const pages: Json[] = [];
    const cursors = new Set<string>();
    const started = Date.now();
    let cursor: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const answer = await link.request(method, cursor === undefined ? (Object.keys(params).length ? params : undefined) : { ...params, cursor });
      if (!isObject(answer.result)) return { error: answer };
      pages.push(answer.result);
      const next = answer.result.nextCursor;
      if (typeof next !== "string" || next === "" || cursors.has(next)) break;
      cursors.add(next);
      cursor = next;
    }
    // Slow until it answers a whole list in time again (its late answers alone do not make it worth waiting for).
    link.slow = Date.now() - started > LIST_WAIT_MS;
    const list = joinPages(method, pages);
    this.learn(link, method, list);
    return { list };
  }

  /** A target's list as it now is: kept for routing and for later answers, and announced when it changed. */
  private learn(link: TargetLink, method: ListMethod, list: TargetList): void {
    const had = link.lists.get(method);
    if (had && canonicalJson(had.list) === canonicalJson(list)) return;
    link.lists.set(method, { list, version: (had?.version ?? 0) + 1 });
    for (const entry of list.entries) {
      if (method === "tools/list" && typeof entry.name === "string") this.tools.add(link.target, entry.name);
      else if (method === "prompts/list" && typeof entry.name === "string") this.prompts.add(link.target, entry.name);
      else if (method === "resources/list" && typeof entry.uri === "string") link.uris.add(entry.uri);
    }
    if (method === "resources/templates/list") {
      link.templates = list.entries
        .filter((e) => typeof e.uriTemplate === "string")
        .map((e) => ({ text: e.uriTemplate as string, pattern: templatePattern(e.uriTemplate as string) }));
    }
    this.announce();
  }

  /** What the editor would be given of a target's list now: its version, "unknown" when not yet fetched, -1 for none. */
  private visible(link: TargetLink, method: ListMethod): number | string {
    if (link.state !== "up" || !declares(link, LIST_SHAPES[method].kind)) return -1;
    return link.lists.get(method)?.version ?? "unknown";
  }

  private remember(method: ListMethod): void {
    this.shown.set(method, new Map(this.links.map((link) => [link, this.visible(link, method)])));
    this.announced.delete(LIST_CHANGED[method]);
  }

  /** Says `list_changed` for every list the editor holds that would now be answered differently (once until asked). */
  private announce(): void {
    for (const [method, given] of this.shown) {
      const note = LIST_CHANGED[method];
      if (this.announced.has(note) || (this.search && method === "tools/list") || this.answering.get(method)) continue;
      if (this.links.every((link) => given.get(link) === this.visible(link, method))) continue;
      this.announced.add(note);
      this.options.write({ jsonrpc: "2.0", method: note });
    }
  }

  // -- calls ---------------------------------------------------------------------------------------------------

  private async onCall(message: JsonRpcMessage & { id: JsonRpcId }): Promise<void> {
    const params = isObject(message.params) ? message.params : {};
    const name = typeof params.name === "string" ? params.name : "";
    if (this.search && name === FIND_TOOLS) return this.onFind(message.id, params);
    if (this.search && name === CALL_TOOL) {
      const args = isObject(params.arguments) ? params.arguments : {};
      if (typeof args.name !== "string") {
        this.reply(message.id, textResult(`${CALL_TOOL} needs "name": a tool's name as ${FIND_TOOLS} gave it`, true));
        return;
      }
      const inner = {
        ...(params._meta !== undefined ? { _meta: params._meta } : {}),
        name: args.name,
        arguments: isObject(args.arguments) ? args.arguments : {},
      };
      return this.callTool(message.id, args.name, inner, true);
    }
    return this.callTool(message.id, name, params, false);
  }

  /** A tools/call of a profile name: the profile's rules, then the owner, which gets the target's own name. */
  private async callTool(id: JsonRpcId, name: string, params: Json, viaSearch: boolean): Promise<void> {
    if (this.refused(id, "tools", name)) return;
    const origin = await this.origin("tools/list", this.tools, name);
    const link = origin && this.links.find((l) => l.target === origin.target);
    if (!origin || !link) {
      const text = `msm: profile "${this.facts.name}" has no tool "${name}" (its tools are named TARGET${this.options.profile.separator}TOOL)`;
      if (viaSearch) this.reply(id, textResult(`${text}; use ${FIND_TOOLS} to find one`, true));
      else this.replyError(id, INVALID_PARAMS, text);
      return;
    }
    this.forward(id, link, "tools/call", { ...params, name: origin.name }, (answer) => {
      // Resources a result names (links, embedded) are read from the target that named them; a task it started
      // is asked about there.
      const task = isObject(answer.result) && isObject(answer.result.task) ? answer.result.task.taskId : undefined;
      if (typeof task === "string") this.tasks.set(task, link);
      const content = isObject(answer.result) && Array.isArray(answer.result.content) ? answer.result.content : [];
      for (const item of content) {
        if (!isObject(item)) continue;
        if (item.type === "resource_link" && typeof item.uri === "string") link.uris.add(item.uri);
        if (item.type === "resource" && isObject(item.resource) && typeof item.resource.uri === "string") link.uris.add(item.resource.uri);
      }
    });
  }

  private async onFind(id: JsonRpcId, params: Json): Promise<void> {
    const args = findArguments(params.arguments);
    if ("problem" in args) {
      this.reply(id, textResult(args.problem, true));
      return;
    }
    const { parts } = await this.collect("tools/list", params._meta !== undefined ? { _meta: params._meta } : {});
    const tools: SearchableTool[] = [];
    for (const { target, list } of parts) {
      for (const tool of list.entries) {
        if (typeof tool.name !== "string") continue;
        const name = this.tools.add(target, tool.name);
        if (name !== undefined && !decide(this.rules, "tools", name)) tools.push({ name, target, tool });
      }
    }
    const signature = this.links.map((link) => `${link.target}:${this.visible(link, "tools/list")}`).join(",");
    this.reply(id, this.index.search(tools, signature, args.query, args.limit));
  }

  private async onPrompt(message: JsonRpcMessage & { id: JsonRpcId; method: string }): Promise<void> {
    const params = isObject(message.params) ? message.params : {};
    const name = typeof params.name === "string" ? params.name : "";
    if (this.refused(message.id, "prompts", name)) return;
    const origin = await this.origin("prompts/list", this.prompts, name);
    const link = origin && this.links.find((l) => l.target === origin.target);
    if (!origin || !link) {
      this.replyError(message.id, INVALID_PARAMS, `msm: profile "${this.facts.name}" has no prompt "${name}"`);
      return;
    }
    this.forward(message.id, link, message.method, { ...params, name: origin.name });
  }

  /** Where a profile name leads; a name not learned yet is looked up in fresh lists first. */
  private async origin(method: ListMethod, table: NameTable, name: string) {
    const known = table.resolve(name);
    if (known) return known;
    await this.collect(method, {});
    return table.resolve(name);
  }

  // -- resources ----------------------------------------------------------------------------------------------

  private async onResource(message: JsonRpcMessage & { id: JsonRpcId; method: string }): Promise<void> {
    const params = isObject(message.params) ? message.params : {};
    const uri = typeof params.uri === "string" ? params.uri : "";
    if (this.refused(message.id, "resources", uri)) return;
    const owner = (message.method === "resources/unsubscribe" ? this.subscriptions.get(uri) : undefined) ?? (await this.ownerOf(uri));
    const remember = (link: TargetLink) => (answer: JsonRpcMessage) => {
      if (!("result" in answer)) return;
      if (message.method === "resources/subscribe") this.subscriptions.set(uri, link);
      if (message.method === "resources/unsubscribe") this.subscriptions.delete(uri);
    };
    if (owner) {
      this.forward(message.id, owner, message.method, params, remember(owner));
      return;
    }
    // Nobody listed it: the targets that offer resources are asked in turn, and the first that has it answers.
    const candidates = this.candidates("resources");
    let first: JsonRpcMessage | undefined;
    for (const link of candidates) {
      if (candidates.length === 1) {
        this.forward(message.id, link, message.method, params, remember(link));
        return;
      }
      const answer = await link.request(message.method, params);
      if ("result" in answer) {
        link.uris.add(uri);
        remember(link)(answer);
        this.pass(message.id, answer);
        return;
      }
      first ??= answer;
    }
    if (first) this.pass(message.id, first);
    else this.replyError(message.id, -32002, `msm: no target of profile "${this.facts.name}" has the resource ${uri}`);
  }

  /** The target a URI belongs to: the first that listed it or named it, then the first whose template or scheme fits. */
  private async ownerOf(uri: string): Promise<TargetLink | undefined> {
    const find = () => {
      const reachable = this.links.filter((link) => link.reachable);
      return (
        reachable.find((link) => link.uris.has(uri)) ??
        reachable.find((link) => link.templates.some((t) => t.text === uri || t.pattern.test(uri))) ??
        reachable.find((link) => [...link.uris].some((known) => sameOrigin(known, uri)) || link.templates.some((t) => sameOrigin(t.text, uri)))
      );
    };
    const found = find();
    if (found || this.candidates("resources").length <= 1) return found;
    await Promise.all([this.collect("resources/list", {}), this.collect("resources/templates/list", {})]);
    return find();
  }

  /** Working targets that offer `kind` (every working one when none says it does). */
  private candidates(kind: string): TargetLink[] {
    const up = this.links.filter((link) => link.state === "up");
    const capable = up.filter((link) => declares(link, kind));
    return capable.length ? capable : up;
  }

  private async onComplete(message: JsonRpcMessage & { id: JsonRpcId; method: string }): Promise<void> {
    const params = isObject(message.params) ? message.params : {};
    const ref = isObject(params.ref) ? params.ref : {};
    if (ref.type === "ref/prompt" && typeof ref.name === "string") {
      if (this.refused(message.id, "prompts", ref.name)) return;
      const origin = await this.origin("prompts/list", this.prompts, ref.name);
      const link = origin && this.links.find((l) => l.target === origin.target);
      if (origin && link) return this.forward(message.id, link, message.method, { ...params, ref: { ...ref, name: origin.name } });
    } else if (ref.type === "ref/resource" && typeof ref.uri === "string") {
      if (this.refused(message.id, "resources", ref.uri)) return;
      const link = await this.ownerOf(ref.uri);
      if (link) return this.forward(message.id, link, message.method, params);
    }
    return this.broadcast(message);
  }

  // -- everything else ----------------------------------------------------------------------------------------

  /** To every working target: the first result in the profile's order, or the first error when none gave one. */
  private async broadcast(message: JsonRpcMessage & { id: JsonRpcId; method: string }): Promise<void> {
    const up = this.links.filter((link) => link.state === "up");
    if (up.length === 1) return this.forward(message.id, up[0]!, message.method, message.params as Json | undefined);
    const owed = this.owed.get(message.id);
    const answers = await within(
      up.map(
        (link) =>
          new Promise<JsonRpcMessage>((resolve) => {
            const id = link.send(message.method, message.params as Json | undefined, resolve);
            owed?.sent.push({ link, id });
          }),
      ),
      LIST_WAIT_MS,
      false,
    );
    const success = answers.find((answer) => answer && "result" in answer);
    if (success) this.pass(message.id, success);
    else this.passFirstError(message.id, answers, message.method);
  }

  /** Sends one editor request to one target under the link's id; its answer comes back under the editor's. */
  private forward(id: JsonRpcId, link: TargetLink, method: string, params: Json | undefined, after?: (answer: JsonRpcMessage) => void): void {
    if (!link.reachable) {
      this.replyError(
        id,
        UPSTREAM_ERROR,
        `msm: target "${link.target}" of profile "${this.facts.name}" is not working (${link.problem ?? "not started"}); msm tries it again in the background`,
      );
      return;
    }
    const sent = link.send(method, params, (answer) => {
      after?.(answer);
      this.pass(id, answer);
    });
    this.owed.get(id)?.sent.push({ link, id: sent });
  }

  /** The profile's rules on a name it shows: true (and the editor answered) when they hide it. */
  private refused(id: JsonRpcId, kind: RuleKind, name: string): boolean {
    const hidden = decide(this.rules, kind, name);
    if (!hidden) return false;
    this.write(hiddenAnswer(id, this.facts.name, kind, name, hidden, `profile "${this.facts.name}"`));
    this.settle(id);
    return true;
  }

  // -- the editor's notifications and answers -----------------------------------------------------------------

  private notificationFromEditor(message: JsonRpcMessage): void {
    const params = isObject(message.params) ? message.params : {};
    switch (message.method) {
      case "notifications/initialized":
        for (const link of this.links) link.sendInitialized(message);
        return;
      case "notifications/cancelled": {
        const owed = this.owed.get(params.requestId as JsonRpcId);
        if (!owed) return;
        owed.cancelled = true;
        for (const { link, id } of owed.sent) link.cancel(id, params.reason);
        this.wakeIfIdle();
        return;
      }
      case "notifications/progress": {
        // Progress the editor reports on a target's request: to that target, under its own token.
        const origin = this.tokens.get(JSON.stringify(params.progressToken));
        if (origin) origin.link.notify({ ...message, params: { ...params, progressToken: origin.token } });
        return;
      }
      default:
        // roots/list_changed and anything else: every target hears it, as each would from its own client.
        for (const link of this.links) if (link.reachable) link.notify(message);
    }
  }

  /** The editor's answer to a target's request: to that target, under its own id. */
  private answerFromEditor(message: JsonRpcMessage): void {
    if (message.id === undefined || message.id === null) return;
    const origin = this.forget(message.id);
    if (origin) origin.link.notify({ ...message, id: origin.id });
  }

  /** Drops what the profile kept about a target's request the editor was asked (answered, or given up on). */
  private forget(id: JsonRpcId): { link: TargetLink; id: JsonRpcId } | undefined {
    const origin = this.asked.get(id);
    if (!origin) return undefined;
    this.asked.delete(id);
    this.askedBack.delete(`${origin.link.index}\0${JSON.stringify(origin.id)}`);
    if (origin.token !== undefined) this.tokens.delete(origin.token);
    return origin;
  }

  // -- what the targets send on their own ---------------------------------------------------------------------

  private fromTarget(link: TargetLink, message: JsonRpcMessage): void {
    const params = isObject(message.params) ? message.params : undefined;
    if (isRequest(message)) {
      // A request of the target's (sampling, elicitation, roots/list, ping): the editor sees an id of the
      // profile's, so two targets never clash, and its answer finds the way back.
      const id = `msm-s${++this.counter}`;
      const entry: { link: TargetLink; id: JsonRpcId; token?: string } = { link, id: message.id };
      this.asked.set(id, entry);
      this.askedBack.set(`${link.index}\0${JSON.stringify(message.id)}`, id);
      let shown = params;
      const meta = isObject(params?._meta) ? params._meta : undefined;
      if (meta && meta.progressToken !== undefined) {
        const token = `msm-t${++this.counter}`;
        entry.token = JSON.stringify(token);
        this.tokens.set(entry.token, { link, token: meta.progressToken });
        shown = { ...params, _meta: { ...meta, progressToken: token } };
      }
      this.write({ ...message, id, ...(shown !== undefined ? { params: shown } : {}) });
      return;
    }
    const method = message.method ?? "";
    if (method === "notifications/cancelled" && params) {
      // The target gave up on its own request to the editor: named by the profile's id for it.
      const id = this.askedBack.get(`${link.index}\0${JSON.stringify(params.requestId)}`);
      if (id === undefined) return;
      this.forget(id);
      this.write({ ...message, params: { ...params, requestId: id } });
      return;
    }
    if (/^notifications\/(tools|prompts|resources)\/list_changed$/.test(method)) {
      // In search mode the editor's two tools never change; find_tools asks the lists afresh anyway.
      if (this.search && method === "notifications/tools/list_changed") return;
      this.announced.add(method);
    }
    this.write(message);
  }

  // -- answering ----------------------------------------------------------------------------------------------

  private write(message: JsonRpcMessage): void {
    this.options.write(message);
  }

  /** An answer the profile made (merged, or its own): not given to a request the editor cancelled. */
  private reply(id: JsonRpcId, result: Json): void {
    const owed = this.settle(id);
    if (owed && !owed.cancelled) this.write({ jsonrpc: "2.0", id, result });
  }

  private replyError(id: JsonRpcId, code: number, text: string): void {
    const owed = this.settle(id);
    if (owed && !owed.cancelled) this.write(errorResponse(id, code, text));
  }

  /** A target's answer, under the editor's id (a cancelled request's too: the editor drops it, as it would directly). */
  private pass(id: JsonRpcId, answer: JsonRpcMessage): void {
    if (!this.settle(id)) return;
    const { id: _, ...rest } = answer;
    this.write({ ...rest, jsonrpc: "2.0", id });
  }

  /** Forgets an owed request; undefined when it was not owed (answered already). */
  private settle(id: JsonRpcId): Owed | undefined {
    const owed = this.owed.get(id);
    if (!owed) return undefined;
    this.owed.delete(id);
    this.wakeIfIdle();
    return owed;
  }

  /** Requests still owed an answer the editor waits for (a cancelled one it no longer does). */
  private waitedFor(): number {
    let n = 0;
    for (const owed of this.owed.values()) if (!owed.cancelled) n++;
    return n;
  }

  private wakeIfIdle(): void {
    if (this.waitedFor() === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  async close(options: CloseOptions): Promise<void> {
    if (this.waitedFor() && options.graceMs > 0) {
      let timer: Timer | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, options.graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    await Promise.all(this.links.map((link) => link.close(options)));
    for (const [id, owed] of [...this.owed]) if (owed.cancelled) this.owed.delete(id);
    for (const id of [...this.owed.keys()]) this.replyError(id, UPSTREAM_ERROR, "msm: the proxy is exiting (stdin closed) before the MCP server answered");
  }
}

/** The profile's own rules, on the names it shows (`profiles.NAME.tools` and the rest). */
function profileRules(profile: Profile, file: string): TargetRules {
  const rules = emptyRules(profile.name);
  for (const kind of RULE_KINDS) {
    const value = profile.rules[kind];
    if (value === undefined) continue;
    const parsed = parseRuleSet(value, file, `profiles.${profile.name}.${kind}`);
    if ("problem" in parsed) rules.broken[kind] = parsed.problem;
    else rules.layers[kind] = [parsed];
  }
  return rules;
}

function declares(link: TargetLink, kind: string): boolean {
  const caps = link.initializeResult?.capabilities;
  return isObject(caps) && caps[kind] !== undefined;
}

/** A log whose lines say which target they are about. */
function prefixed(log: Log, target: string): Log {
  return {
    debug: (...args) => log.debug(`[${target}]`, ...args),
    info: (...args) => log.info(`[${target}]`, ...args),
    warn: (...args) => log.warn(`[${target}]`, ...args),
  };
}

/**
 * Waits for `jobs`, at most `waitMs` (with `afterFirst`, never before the first has finished): each job's value, or
 * undefined for one still running then.
 */
function within<T>(jobs: Promise<T>[], waitMs: number, afterFirst: boolean): Promise<(T | undefined)[]> {
  const results: (T | undefined)[] = jobs.map(() => undefined);
  if (!jobs.length) return Promise.resolve(results);
  return new Promise((resolve) => {
    let done = 0;
    let expired = false;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      resolve([...results]);
    };
    const timer = setTimeout(() => {
      expired = true;
      if (!afterFirst || done > 0) finish();
    }, waitMs);
    timer.unref?.();
    for (const [i, job] of jobs.entries()) {
      void job.then((value) => {
        results[i] = value;
        done++;
        if (done === jobs.length || expired) finish();
      });
    }
  });
}

/** RFC 6570 URI template → a RegExp that matches what it expands to (level 1–2 variables; anything else literal). */
export function templatePattern(template: string): RegExp {
  let source = "";
  let last = 0;
  for (const match of template.matchAll(/\{([+#./;?&]?)[^}]*\}/g)) {
    source += escapeRegExp(template.slice(last, match.index));
    const operator = match[1];
    source += operator === "+" || operator === "#" ? ".*" : operator === "?" || operator === "&" ? "(?:[?&][^#]*)?" : "[^/?#]*";
    last = match.index! + match[0].length;
  }
  source += escapeRegExp(template.slice(last));
  return new RegExp(`^${source}$`);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Same `scheme://authority`: a URI from the same server as one it listed. */
function sameOrigin(a: string, b: string): boolean {
  const origin = (uri: string) => /^[a-z][a-z0-9+.-]*:\/\/[^/?#{]*/i.exec(uri)?.[0];
  const x = origin(a);
  return x !== undefined && x === origin(b);
}
