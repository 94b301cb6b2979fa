// The counter page: it shows the count and has a "+1" button whose click is shown at once,
// with an optimistic update, before the server confirms it.
import { api } from "../convex/_generated/api";

export default async function counterPage(client, ui) {
  client.onUpdate(api.counter.get, {}, (count) => {
    // render(count): the page shows what this callback is given
  });
  await ui.event("click +1");
  await client.mutation(api.counter.increment, {}, {
    optimisticUpdate: (localStore) => {
      const count = localStore.getQuery(api.counter.get, {});
      localStore.setQuery(api.counter.get, {}, count + 1);
    },
  });
}
