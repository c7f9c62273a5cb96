"""Runs a person's form: keeps its state in the conversation row, renders each step, applies
typed answers and pressed buttons. Button data carries the row's version, so a button from an
older message is refused instead of being applied to a different step."""

from __future__ import annotations

from handlers.core import buttons
from handlers.core.context import Ctx
from handlers.core.flow import FLOWS, Flow
from handlers.core.shown import item_text, shortened, value_text
from handlers.core.types import Choice
from handlers.forms import engine, groups
from handlers.forms.spec import FieldSpec, FormEnv, FormSpec, default_of
from language import vn
from storage.conversation_state import (
    Answers,
    ConversationContext,
    FormState,
    Item,
    group_answer,
    photo_keys,
)
from storage.media import deleting
from storage.models import Conversation
from storage.records.conversations import end_conversation, get_conversation
from storage.retention import unused_media


def button(conv: Conversation, action: str, label: str) -> Choice:
    return Choice(label, buttons.FORM(conv.version, action))


async def start(
    ctx: Ctx,
    flow_name: str,
    context: ConversationContext | None = None,
    answers: Answers | None = None,
    fixed: tuple[str, ...] = (),
) -> None:
    """Begin a form. `answers` are known already: shown in the summary, not asked, changed from
    there but for those in `fixed` (the only possible choice: no button to change it)."""
    conv = await get_conversation(ctx.session, member_id=ctx.member.id)
    if conv is None:
        conv = Conversation(member_id=ctx.member.id)
        ctx.session.add(conv)
    conv.form = flow_name
    state = engine.new_state()
    state["answers"] = dict(answers or {})
    conv.state = state
    conv.context = {**(context or {}), "_fixed": sorted(fixed)} if fixed else context or {}
    conv.paused = False
    conv.started_at = ctx.now
    conv.nudged_at = None
    touch(ctx, conv)
    await ctx.session.flush()
    await flow_of(conv).refresh(ctx, conv)
    await render(ctx, conv)


def touch(ctx: Ctx, conv: Conversation) -> None:
    conv.expires_at = ctx.now + ctx.config.draft_ttl
    conv.updated_at = ctx.now


def flow_of(conv: Conversation) -> Flow:
    return FLOWS[conv.form]


async def form_env(ctx: Ctx, conv: Conversation) -> FormEnv:
    env = await flow_of(conv).env(ctx, conv)
    env.labeler = ctx.label
    return env


def _nav_row(
    ctx: Ctx, conv: Conversation, *, can_skip: bool, skip_label: str = "button-skip"
) -> list[Choice]:
    row = []
    if conv.state["history"]:
        row.append(button(conv, "b", ctx.t("button-back")))
    if can_skip:
        row.append(button(conv, "s", ctx.t(skip_label)))
    row.append(button(conv, "x", ctx.t("button-cancel")))
    return row


async def render(ctx: Ctx, conv: Conversation, note: str | None = None) -> None:
    flow = flow_of(conv)
    form = flow.form_for(conv)
    env = await form_env(ctx, conv)
    step = engine.current_step(form, conv.state)
    title = ctx.label(form.title)
    lines = [note] if note else []
    if step.kind == "summary" and await flow.preview(ctx, conv, note):
        return
    if step.kind == "summary":
        lines.append(ctx.t("form-summary-head", title=title))
        _render_summary(ctx, conv, form, env, lines)
        return
    assert step.field is not None
    if step.kind in ("items", "remove"):
        _render_items(ctx, conv, step.field, env, step.kind, lines)
        return
    if step.kind == "more":
        count = len(_group_items(conv, step.field.name))
        lines.append(ctx.t("form-more", label=ctx.label(step.field.label), count=count))
        more = [
            button(conv, "y", ctx.t("button-yes-more")),
            button(conv, "n", ctx.t("button-no-more")),
        ]
        ctx.result.say("\n".join(lines), [more, _nav_row(ctx, conv, can_skip=False)])
        return
    spec = step.spec
    assert spec is not None
    prompt = await flow.prompt(ctx, conv, spec, engine.prompt_params(step, conv.state, env))
    kept = engine.kept_value(conv.state, step)
    if step.sub is not None:
        group = group_answer(conv.state["answers"], step.field.name)
        at = group.get("at") if group else None
        n = len(_group_items(conv, step.field.name)) + 1 if at is None else at + 1
        prompt = ctx.t(step.field.item_label, n=n) + " " + prompt
    if conv.state.get("editing"):
        prompt = ctx.t("form-editing") + " " + prompt
    lines.append(prompt)
    # Where options are numbered (Zalo), keep and skip are a word typed, not a button.
    typed = "-numbered" if ctx.inbound.numbered else ""
    if kept is not None:
        value = value_text(ctx, spec, kept[0], env)
        lines.append(ctx.t(f"form-group-current{typed}", value=value))
    elif not spec.required:
        lines.append(ctx.t(f"form-optional-hint{typed}"))
    rows: list[list[Choice]] = []
    if spec.type == "choice":
        options = env.options_for(spec)
        shown, page, pages = engine.page_of(options, conv.state, spec.page_size, ctx.label)
        rows += [[button(conv, f"o:{option.value}", ctx.label(option.label))] for option in shown]
        if pages > 1:
            lines.append(ctx.t("form-page", page=page + 1, pages=pages))
            paging = []
            if page > 0:
                paging.append(button(conv, f"p:{page - 1}", ctx.t("button-prev")))
            if page < pages - 1:
                paging.append(button(conv, f"p:{page + 1}", ctx.t("button-next")))
            rows.append(paging)
        if engine.option_count(options) > spec.page_size:
            lines.append(ctx.t("form-search-hint"))
        if conv.state.get("query"):
            rows.append([button(conv, "p:all", ctx.t("button-show-all"))])
    photos_so_far = 0
    if spec.type == "photos":
        photos_so_far = len(engine.photo_ids(conv.state, spec.name))
        if photos_so_far:
            # Each picture of an album arrives alone: answer it in one short line.
            lines = [*([note] if note else []), ctx.t("form-photos-received", count=photos_so_far)]
            rows.append([button(conv, "d", ctx.t("button-photos-done"))])
    if kept is not None:
        rows.append(_nav_row(ctx, conv, can_skip=True, skip_label="button-keep"))
    else:
        rows.append(_nav_row(ctx, conv, can_skip=not spec.required and photos_so_far == 0))
    ctx.result.say("\n".join(lines), rows, free_text=spec.type not in ("choice", "photos"))


def _render_summary(
    ctx: Ctx, conv: Conversation, form: FormSpec, env: FormEnv, lines: list[str]
) -> None:
    """The answers that count, each with its button to change it, and the button to confirm."""
    answers = engine.final_answers(form, conv.state)
    edit_buttons = []
    for spec in form.fields:
        if spec.name not in answers:
            continue
        default = default_of(spec, answers, env.context) if answers[spec.name] is None else None
        shown = value_text(ctx, spec, answers[spec.name], env)
        if default is not None:
            shown = ctx.t("form-default", value=value_text(ctx, spec, default, env))
        group = group_answer(conv.state["answers"], spec.name) if spec.type == "group" else None
        # Items taken out while changing the group stay visible until the form is sent.
        for item in group.get("removed", []) if group else []:
            removed = ctx.t("form-group-removed-line", item=item_text(ctx, spec, item, env))
            shown += "\n  " + removed
        separator = "\n" if spec.type == "group" or "\n" in shown else " "
        lines.append(f"• {ctx.label(spec.label)}:{separator}{shown}")
        if spec.name in conv.context.get("_fixed", ()):
            continue
        edit_buttons.append(
            button(conv, f"e:{spec.name}", ctx.t("button-edit", label=ctx.label(spec.label)))
        )
    lines.append(ctx.t("form-summary-foot" if edit_buttons else "form-summary-foot-send"))
    rows = [[button(conv, "ok", ctx.t(form.confirm_label))]]
    rows += [edit_buttons[i : i + 2] for i in range(0, len(edit_buttons), 2)]
    rows.append(_nav_row(ctx, conv, can_skip=False))
    ctx.result.say("\n".join(lines), rows)


def _group_items(conv: Conversation, name: str) -> list[Item]:
    group = group_answer(conv.state["answers"], name)
    return group["items"] if group else []


def _render_items(
    ctx: Ctx, conv: Conversation, spec: FieldSpec, env: FormEnv, kind: str, lines: list[str]
) -> None:
    """A group changed from the summary: its items to change (or remove) one, add, or be done."""
    items = _group_items(conv, spec.name)
    label = ctx.label(spec.label)
    action = "gi" if kind == "items" else "gd"
    rows = [
        [button(conv, f"{action}:{i}", shortened(f"{i + 1}. {item_text(ctx, spec, item, env)}"))]
        for i, item in enumerate(items)
    ]
    if kind == "remove":
        lines.append(ctx.t("form-group-remove", label=label))
    else:
        head = ctx.t("form-group-items", label=label, count=len(items))
        lines.append(ctx.t("form-editing") + " " + head if conv.state.get("editing") else head)
        more = []
        if len(items) < spec.max_items:
            more.append(button(conv, "ga", ctx.t("button-group-add")))
        if len(items) > spec.min_items:
            more.append(button(conv, "gr", ctx.t("button-group-remove")))
        if more:
            rows.append(more)
        rows.append([button(conv, "gn", ctx.t("button-group-done"))])
    rows.append(_nav_row(ctx, conv, can_skip=False))
    ctx.result.say("\n".join(lines), rows)


def _removal_note(ctx: Ctx, conv: Conversation, env: FormEnv, arg: str) -> str | None:
    """What a removal takes out, said when it is done (back brings it back)."""
    step = engine.current_step(flow_of(conv).form_for(conv), conv.state)
    if step.kind != "remove" or step.field is None:
        return None
    items = _group_items(conv, step.field.name)
    if not arg.isdigit() or int(arg) >= len(items):
        return None
    return ctx.t(
        "form-group-removed",
        n=int(arg) + 1,
        item=item_text(ctx, step.field, items[int(arg)], env),
        label=ctx.label(step.field.label),
    )


async def _advance(
    ctx: Ctx, conv: Conversation, new_state: FormState, note: str | None = None
) -> None:
    conv.state = new_state
    touch(ctx, conv)
    ctx.result.form_steps.append(conv.form)
    flow = flow_of(conv)
    if engine.current_step(flow.form_for(conv), new_state).kind == "done":
        await finish(ctx, conv)
        return
    await ctx.session.flush()
    await render(ctx, conv, note=note)


async def finish(ctx: Ctx, conv: Conversation) -> None:
    flow = flow_of(conv)
    answers = engine.final_answers(flow.form_for(conv), conv.state)
    try:
        await flow.complete(ctx, conv, answers)
    except vn.InputError as error:
        note = "⚠️ " + ctx.t(error.key, **error.params)
        if not flow.form_for(conv).summary:
            # Nothing left to correct (the invite ran out meanwhile, say): end with the reason.
            await end_conversation(ctx.session, conversation=conv)
            ctx.result.say(note)
            return
        await ctx.session.flush()
        await render(ctx, conv, note=note)
        return
    await end_conversation(ctx.session, conversation=conv)


async def _up_to_date(ctx: Ctx, conv: Conversation, *, answering: bool = True) -> bool:
    """Bring the form up to date (an admin added or removed a question meanwhile). When the step
    the person was answering is no longer the current one, the current one is shown instead
    and nothing is applied: False."""
    flow = flow_of(conv)
    before = engine.current_step(flow.form_for(conv), conv.state).path
    if not await flow.refresh(ctx, conv) or not answering:
        return True
    if engine.current_step(flow.form_for(conv), conv.state).path == before:
        return True
    await render(ctx, conv, note=ctx.t("form-changed"))
    return False


async def on_text(ctx: Ctx, conv: Conversation, text: str) -> None:
    flow = flow_of(conv)
    if not await flow.allowed(ctx, conv):
        await cancel(ctx, conv, key="form-not-allowed")
        return
    if not await _up_to_date(ctx, conv):
        return
    env = await form_env(ctx, conv)
    step = engine.current_step(flow.form_for(conv), conv.state)
    try:
        new_state, value = engine.answer_text(flow.form_for(conv), conv.state, text, env)
        if step.spec is not None:
            await flow.check(ctx, conv, step.spec, value)
    except vn.InputError as error:
        if error.key == "error-choice-search":
            conv.state = engine.narrowed(error)
            touch(ctx, conv)
            await ctx.session.flush()
            await render(ctx, conv, note=ctx.t("form-search-result", query=text.strip()))
            return
        await render(ctx, conv, note="⚠️ " + ctx.t(error.key, **error.params))
        return
    await _advance(ctx, conv, new_state)


async def on_attachment(
    ctx: Ctx, conv: Conversation, kind: str, file_id: str | None, media_key: str | None = None
) -> None:
    flow = flow_of(conv)
    if not await flow.allowed(ctx, conv):
        await cancel(ctx, conv, key="form-not-allowed")
        return
    if not await _up_to_date(ctx, conv):
        return
    if await flow.attachment(ctx, conv):
        return
    form = flow.form_for(conv)
    step = engine.current_step(form, conv.state)
    if step.spec is None or step.spec.type != "photos" or not file_id:
        await render(ctx, conv, note="⚠️ " + ctx.t("error-attachment"))
        return
    if kind != "photo":
        await render(ctx, conv, note="⚠️ " + ctx.t("error-photo-type"))
        return
    try:
        new_state = engine.add_photo(form, conv.state, file_id, media_key)
    except vn.InputError as error:
        await render(ctx, conv, note="⚠️ " + ctx.t(error.key, **error.params))
        return
    await _advance(ctx, conv, new_state)


async def on_button(ctx: Ctx, conv: Conversation, action: str) -> None:
    flow = flow_of(conv)
    if not await flow.allowed(ctx, conv):
        await cancel(ctx, conv, key="form-not-allowed")
        return
    kind, _, arg = action.partition(":")
    if kind in ("x", "xx", "c"):
        await (ask_cancel if kind == "x" else cancel if kind == "xx" else resume)(ctx, conv)
        return
    # Back undoes the last answer whatever the form looks like now; the rest act on a step.
    if not await _up_to_date(ctx, conv, answering=kind != "b"):
        return
    form = flow.form_for(conv)
    if kind == "ok":
        if engine.current_step(form, conv.state).kind != "summary":
            await render(ctx, conv, note="⚠️ " + ctx.t("error-choice"))
            return
        await finish(ctx, conv)  # the flow checks the answers against what is true now
        return
    env = await form_env(ctx, conv)
    note = _removal_note(ctx, conv, env, arg) if kind == "gd" else None
    try:
        new_state = await _apply_button(ctx, conv, flow, env, kind, arg)
    except vn.InputError as error:
        await render(ctx, conv, note="⚠️ " + ctx.t(error.key, **error.params))
        return
    await _advance(ctx, conv, new_state, note)


async def _apply_button(
    ctx: Ctx, conv: Conversation, flow: Flow, env: FormEnv, kind: str, arg: str
) -> FormState:
    form = flow.form_for(conv)
    match kind:
        case "o":
            step = engine.current_step(form, conv.state)
            new_state = engine.choose(form, conv.state, arg, env)
            if step.spec is not None:
                await flow.check(ctx, conv, step.spec, arg)
            return new_state
        case "y" | "n":
            return engine.choose(form, conv.state, "yes" if kind == "y" else "no", env)
        case "b":
            return engine.back(conv.state)
        case "d":
            return engine.close_photos(form, conv.state)
        case "s":
            return engine.skip(form, conv.state)
        case "e":
            if arg not in {s.name for s in form.fields} or arg in conv.context.get("_fixed", []):
                raise vn.InputError("error-choice")
            return engine.edit(form, conv.state, arg)
        case "gi" | "gd" if arg.isdigit():
            change = groups.change if kind == "gi" else groups.remove
            return change(form, conv.state, int(arg))
        case "ga":
            return groups.add(form, conv.state)
        case "gr":
            return groups.choose_removal(form, conv.state)
        case "gn":
            return groups.close(form, conv.state)
        case "p" if arg == "all":
            return engine.show_all(conv.state)
        case "p" if arg.isdigit():
            return engine.set_page(conv.state, int(arg))
    raise vn.InputError("error-choice")


async def ask_cancel(ctx: Ctx, conv: Conversation) -> None:
    """/huy: a form with answers is thrown away only when confirmed (/huy again, or the
    button); one without is cancelled at once. Any other step makes the question stale."""
    if not conv.state["history"] or conv.context.get("_cancel_asked") == conv.version:
        await cancel(ctx, conv)
        return
    # The flush makes the version the next one; a step taken meanwhile moves it further.
    conv.context = {**conv.context, "_cancel_asked": conv.version + 1}
    await ctx.session.flush()
    title = ctx.label(flow_of(conv).form.title)
    rows = [
        [button(conv, "xx", ctx.t("button-cancel-yes"))],
        [button(conv, "c", ctx.t("button-cancel-no"))],
    ]
    ctx.result.say(ctx.t("form-cancel-ask", title=title), rows)


async def cancel(ctx: Ctx, conv: Conversation, key: str = "form-cancelled") -> None:
    title = ctx.label(flow_of(conv).form.title)
    photos = photo_keys(conv.state)
    await end_conversation(ctx.session, conversation=conv)
    # The photos of a report given up are in the media store already: they go with it.
    store = ctx.config.channels.media_store()
    if photos and store is not None:
        unused = await unused_media(ctx.session, photos)
        ctx.result.after_commit.append(deleting(store, unused))
    ctx.say(key, title=title)


async def resume(ctx: Ctx, conv: Conversation, note: str | None = None) -> None:
    conv.paused = False
    if "_cancel_asked" in conv.context:  # "continue": a later /huy asks again
        context = conv.context.copy()
        del context["_cancel_asked"]
        conv.context = context
    touch(ctx, conv)
    await ctx.session.flush()
    await flow_of(conv).refresh(ctx, conv)
    await render(ctx, conv, note=note)
