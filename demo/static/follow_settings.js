// The footer's ⚙ Settings change the page's language (Gradio sets <html lang>); follow them with the
// page's own switch, so that what Python writes (messages, figures) changes language too.
// The switch's choices are language codes ("en", "zh-CN"): take the exact one, else the same language.
() => {
  let last = (document.documentElement.lang || "").toLowerCase();
  new MutationObserver(() => {
    const now = (document.documentElement.lang || "").toLowerCase();
    if (now === last) return;
    last = now;
    const inputs = [...document.querySelectorAll("#language input[type=radio]")];
    const primary = now.split("-")[0];
    const choice = inputs.find((i) => i.value.toLowerCase() === now)
      || inputs.find((i) => i.value.toLowerCase().split("-")[0] === primary)
      || inputs.find((i) => i.value === "en");
    if (choice && !choice.checked) choice.click();
  }).observe(document.documentElement, {attributes: true, attributeFilter: ["lang"]});
}
