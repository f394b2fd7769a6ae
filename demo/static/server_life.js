// The server's life (a token it draws when it starts; demo/server_life.py). Two things follow it:
// - a page whose server restarted reloads itself, so that it opens with the new server instead of waiting on
//   a session that server never saw (asked every few seconds, a few bytes);
// - the browser keeps the life in which it last began work here (a training, a text loaded, a file
//   uploaded), so that a page opened after a restart is told that this work is gone.
() => {
  const life = "__SERVER_LIFE__";
  const mark = () => {
    try {
      localStorage.setItem("__WORK_KEY__", life);
    } catch (e) {
      // no storage (a policy, a full quota): the page will simply not be told
    }
  };
  const begins = "#start-training, #resume-training, #load-text";
  document.addEventListener("click", (e) => e.target.closest?.(begins) && mark(), true);
  document.addEventListener("change", (e) => e.target.matches?.("input[type=file]") && mark(), true);
  const ask = async () => {
    try {
      const answer = await fetch(new URL("__LIFE_PATH__", location.href), {cache: "no-store"});
      if (answer.ok && (await answer.text()) !== life) location.reload();
    } catch (e) {
      // the server is away (restarting): ask again later
    }
  };
  setInterval(ask, 5000);
}
