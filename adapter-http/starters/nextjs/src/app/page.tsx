import { signIn } from "@/auth";

export default function Home() {
  return (
    <main>
      <h1>{"{{APP_NAME}}"}</h1>
      <form
        action={async () => {
          "use server";
          await signIn("calimatic", { redirectTo: "/dashboard" });
        }}
      >
        <button type="submit">Sign in</button>
      </form>
      <a href="/dashboard">Dashboard</a>
    </main>
  );
}
