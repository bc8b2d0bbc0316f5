// "Usage in Server Components" of the guide, as printed (plus the import of redirect it uses).
import { redirect } from "next/navigation";
import { auth } from "@/auth";
export default async function Dashboard() {
  const session = await auth();
  if (!session) {
    redirect("/api/auth/signin");
  }
  return (
    <div>
      <h1>Welcome, {session.user.name}</h1>
      <p>Organization: {session.user.organizationId}</p>
    </div>
  );
}
