import { redirect } from "next/navigation";
import { auth } from "@/auth";

// A protected page (the guide's Server Component example).
export default async function Dashboard() {
  const session = await auth();
  if (!session) {
    redirect("/api/auth/signin");
  }
  return (
    <div>
      <h1 id="who">Welcome, {session.user?.name}</h1>
      <p id="org">Organization: {(session.user as any)?.organizationId}</p>
    </div>
  );
}
