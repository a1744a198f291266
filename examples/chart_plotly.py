import plotly.graph_objects as go

months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun"]
visitors = [1200, 1350, 1610, 1580, 1820, 2050]
signups = [85, 92, 130, 118, 151, 176]

fig = go.Figure()
fig.add_trace(go.Bar(x=months, y=visitors, name="Visitors", marker_color="#636EFA"))
fig.add_trace(go.Scatter(x=months, y=signups, name="Sign-ups", yaxis="y2", mode="lines+markers",
                         line=dict(color="#EF553B", width=3)))
fig.update_layout(
    title="Website Traffic, H1 2024",
    xaxis_title="Month",
    yaxis=dict(title="Visitors"),
    yaxis2=dict(title="Sign-ups", overlaying="y", side="right"),
    legend=dict(orientation="h", y=1.08, x=0.5, xanchor="center"),
    template="plotly_white",
    width=800,
    height=500,
)
fig.show()
