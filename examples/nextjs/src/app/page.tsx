import { signIn } from "@/auth";

export default function Home() {
  return (
    <form
      action={async () => {
        "use server";
        await signIn("calimatic", { redirectTo: "/dashboard" });
      }}
    >
      <button type="submit">Sign in with Calimatic</button>
    </form>
  );
}
