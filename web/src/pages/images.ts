//! The image library (`GET /images`): the catalogue with each image's state (cached or to be
//! built), size and build time; build, rebuild (refresh) and delete for admins, with the
//! build's live progress (its operation's messages, cancellable); imported application (OCI)
//! images; and the image operations running or done.

import { del, enc, get, message, post, type S } from "../api";
import { badge, bytes, card, confirmDialog, h, mount, table, toast, when } from "../dom";
import { follow } from "../ops";
import { operationRows } from "../oplist";
import { progressView } from "../progress";
import { isAdmin } from "../session";
import { allOperations, loadOperations, watch } from "../store";

export async function imagesPage(main: HTMLElement): Promise<() => void> {
  const admin = isAdmin();
  const listBox = h("div");
  const appsBox = h("div");
  const progressBox = h("div", { class: "progress-box" });
  const opsBox = h("div");
  const err = h("p", { class: "error", role: "alert" });

  const build = async (alias: string, force: boolean) => {
    err.textContent = "";
    const view = progressView(`${force ? "Rebuilding" : "Building"} ${alias}`);
    view.el.dataset.image = alias;
    progressBox.prepend(view.el);
    try {
      const env = await post<S["OperationEnvelope"]>("/images", { image: alias, force });
      const op = await follow(env.operation, (o) => view.op(o));
      if (op.status === "success") {
        view.done(h("p", { class: "ok" }, `${alias} is built.`));
        toast(`${alias} built`);
      } else view.failed(op);
    } catch (e) {
      view.remove();
      err.textContent = `${alias}: ${message(e)}`;
    }
    await draw().catch(() => {});
  };
  const remove = async (img: S["ImageInfo"]) => {
    const what = img.status === "imported" ? "The imported application image is removed; `berth run` can no longer use it." : "The cached root filesystem is removed; instances made from it keep their own copy, and the next create builds it again.";
    if (!(await confirmDialog(`Delete ${img.alias}?`, what, "delete"))) return;
    try {
      await del(`/images/${img.alias.split("/").map(enc).join("/")}`);
      toast(`${img.alias} deleted`);
    } catch (e) {
      err.textContent = `${img.alias}: ${message(e)}`;
    }
    await draw().catch(() => {});
  };
  const actions = (img: S["ImageInfo"]) => {
    if (!admin) return "";
    const buttons = [];
    if (img.status !== "imported")
      buttons.push(
        img.status === "cached" || img.status === "fetched"
          ? h("button", { type: "button", class: "small", "aria-label": `rebuild ${img.alias}`, onclick: () => void build(img.alias, true) }, "rebuild")
          : h("button", { type: "button", class: "small", "aria-label": `build ${img.alias}`, onclick: () => void build(img.alias, false) }, "build"),
      );
    if (img.status !== "missing") buttons.push(h("button", { type: "button", class: "small danger", "aria-label": `delete ${img.alias}`, onclick: () => void remove(img) }, "delete"));
    return h("div", { class: "btns" }, buttons);
  };
  const draw = async () => {
    const images = await get<S["ImageInfo"][]>("/images");
    const building = new Set(allOperations().filter((o) => o.kind === "image_build" && (o.status === "running" || o.status === "pending")).map((o) => o.target));
    const system = images.filter((i) => i.status !== "imported");
    const apps = images.filter((i) => i.status === "imported");
    mount(
      listBox,
      table(
        "Image catalogue",
        ["Image", "Release", "Architecture", "State", "Size", "Built", ...(admin ? ["Actions"] : [])],
        system.map((i) => [
          h("strong", {}, i.alias),
          i.codename ? `${i.distro} ${i.version} (${i.codename})` : `${i.distro} ${i.version}`,
          i.arch,
          building.has(i.alias) ? badge("building") : badge(i.status === "missing" ? "not built" : i.status),
          i.size ? bytes(i.size) : "—",
          when(i.built_at),
          ...(admin ? [building.has(i.alias) ? h("span", { class: "muted" }, "building…") : actions(i)] : []),
        ]),
      ),
    );
    mount(
      appsBox,
      table(
        "Application images",
        ["Image", "Architecture", "Size", "Imported", ...(admin ? ["Actions"] : [])],
        apps.map((i) => [h("strong", {}, i.alias), i.arch, i.size ? bytes(i.size) : "—", when(i.built_at), ...(admin ? [actions(i)] : [])]),
        "No application images; import one with berth image import (an OCI layout or docker archive) and run it with berth run oci:NAME.",
      ),
    );
  };
  const drawOps = () => mount(opsBox, operationRows(allOperations().filter((o) => o.kind.startsWith("image_")).slice(0, 10), { target: true }));
  mount(
    main,
    h("h1", {}, "Images"),
    h("p", { class: "muted" }, "Instances are made from these root filesystems. A missing one is built on first use; ", admin ? "build it ahead of time here." : "an admin can build it ahead of time."),
    err,
    progressBox,
    card("Catalogue", listBox),
    card("Application images (OCI)", appsBox),
    card("Image operations", opsBox),
  );
  await Promise.all([draw(), loadOperations()]);
  drawOps();
  // A build started elsewhere (the CLI, a create) shows here as it runs and ends.
  let last = "";
  const unwatch = watch(() => {
    drawOps();
    const now = allOperations()
      .filter((o) => o.kind.startsWith("image_"))
      .map((o) => `${o.id}:${o.status}`)
      .join();
    if (now !== last) {
      last = now;
      void draw().catch(() => {});
    }
  }, ["operations"]);
  return unwatch;
}
